use clap::Parser;
use vrft_tui::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::List(args)) => vrft_tui::list::run(args),
        Some(Command::Record(args)) => vrft_tui::record_cmd::run(args),
        Some(Command::Dump(args)) => vrft_tui::dump::run(args),
        Some(Command::Replay(args)) => vrft_tui::replay::run(args),
        Some(Command::ReleaseLinks) => vrft_tui::tracer::release::child_main(),
        None => vrft_tui::live::run(&cli.trace),
    };
    if let Err(e) = result {
        // One line, naming the problem and the fix; details only with RUST_BACKTRACE.
        eprintln!("vrft-tui: {e:#}");
        std::process::exit(1);
    }
}
