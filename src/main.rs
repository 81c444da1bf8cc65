use clap::Parser;
use vrft_tui::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::List(args)) => vrft_tui::list::run(args),
        None => Err(anyhow::anyhow!("live tracing is not implemented yet")),
    };
    if let Err(e) = result {
        // One line, naming the problem and the fix; details only with RUST_BACKTRACE.
        eprintln!("vrft-tui: {e:#}");
        std::process::exit(1);
    }
}
