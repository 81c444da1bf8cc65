//! `vrft-tui list`: print the skb functions the BTF scanner finds.

use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {}

pub fn run(_args: &ListArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
