//! The `gochat` binary: parses the command line and hands over to the library.
//!
//! Exit statuses: 0 success, 1 a run-time failure, 2 bad usage (argh's convention, kept for
//! our own usage errors too). Every error is one line on stderr starting `gochat: `.

use std::io::Write;
use std::process::ExitCode;

use gochat::cli::{Cli, Command};

fn main() -> ExitCode {
    let args = match utf8_args() {
        Ok(args) => args,
        Err(error) => return fail(error),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match <Cli as argh::FromArgs>::from_args(&["gochat"], &args) {
        Ok(cli) => cli,
        Err(exit) => return early_exit(exit),
    };
    if cli.version {
        println!("gochat {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Some(Command::Serve(args)) => gochat::server::serve(&args),
        Some(Command::Connect(args)) => gochat::client::connect(&args),
        Some(Command::Completions(args)) => print_completions(args.shell),
        None => Err(gochat::Error::Usage(
            "missing command: serve, connect or completions (run gochat --help)".into(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

/// Reports an error as its one line, and gives its exit status.
fn fail(error: gochat::Error) -> ExitCode {
    eprintln!("gochat: {error}");
    ExitCode::from(error.exit_code())
}

/// The arguments after the program's name. Every gochat argument is text (an address, a
/// size, a name), so one that is not UTF-8 is bad usage, shown with its bytes escaped.
fn utf8_args() -> Result<Vec<String>, gochat::Error> {
    use std::os::unix::ffi::OsStrExt;
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string().map_err(|arg| {
                gochat::Error::Usage(format!(
                    "argument \"{}\" is not UTF-8 (run gochat --help)",
                    arg.as_bytes().escape_ascii()
                ))
            })
        })
        .collect()
}

/// What argh asked for instead of a parsed command line: help (status 0) or a usage error
/// (status 2, one `gochat: ` line ending in a hint). argh lists missing arguments on lines of
/// their own; they are joined so the error stays one line.
fn early_exit(exit: argh::EarlyExit) -> ExitCode {
    match exit.status {
        Ok(()) => {
            print!("{}", exit.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            let words: Vec<&str> = exit.output.split_whitespace().collect();
            eprintln!("gochat: {} (run gochat --help)", words.join(" "));
            ExitCode::from(2)
        }
    }
}

/// `gochat completions SHELL`: the script on stdout. A closed pipe (`| head`) is not an
/// error worth a message, but any other write failure is.
fn print_completions(shell: gochat::cli::Shell) -> Result<(), gochat::Error> {
    let script = gochat::completions::script(shell);
    let mut out = std::io::stdout().lock();
    match out.write_all(script.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(gochat::Error::io("writing the completion script", e))
        }
        _ => Ok(()),
    }
}
