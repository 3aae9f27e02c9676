//! The `gochat` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use gochat::cli::{Cli, Command};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match <Cli as argh::FromArgs>::from_args(&["gochat"], &args) {
        Ok(cli) => cli,
        Err(exit) => {
            return match exit.status {
                Ok(()) => {
                    print!("{}", exit.output);
                    ExitCode::SUCCESS
                }
                Err(()) => {
                    eprintln!("gochat: {}", exit.output.trim_end());
                    eprintln!("Run gochat --help for more information.");
                    ExitCode::from(2)
                }
            };
        }
    };
    if cli.version {
        println!("gochat {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Some(Command::Serve(args)) => gochat::server::serve(&args),
        Some(Command::Connect(args)) => gochat::client::connect(&args),
        None => Err(gochat::Error::Usage(
            "missing command: serve or connect (run gochat --help)".into(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gochat: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
