use clap::Parser;
use vrft_tui::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    // The environment is read here, at the edge, and handed to the library.
    if let Some(dir) = std::env::var_os("VRFT_RUN_DIR") {
        vrft_tui::tracer::release::set_run_dir(dir.into());
    }
    let result = match &cli.command {
        Some(Command::List(args)) => vrft_tui::list::run(args),
        Some(Command::Record(args)) => vrft_tui::record_cmd::run(args),
        Some(Command::Dump(args)) => vrft_tui::dump::run(args),
        Some(Command::Export(args)) => vrft_tui::export::run(args),
        Some(Command::Replay(args)) => vrft_tui::replay::run(args),
        Some(Command::ReleaseLinks) => {
            vrft_tui::tracer::release::child_main().map_err(anyhow::Error::from)
        }
        None => vrft_tui::live::run(&cli.trace, &cli.live),
    };
    if let Err(e) = result {
        // One line, naming the problem and the fix; details only with RUST_BACKTRACE.
        eprintln!("vrft-tui: {e:#}");
        std::process::exit(1);
    }
}
