//! `gochat --help` as the documentation tests read it.

use super::process::run;

/// `gochat ARGS --help`, which must succeed quietly.
pub fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let (status, out, err) = run(&all);
    assert!(status.success(), "{all:?}: {status:?} {err}");
    assert!(err.is_empty(), "{all:?} wrote to stderr: {err}");
    out
}

/// The entries of one section of a help text ("Options:"), each with its description
/// joined onto one line.
pub fn help_section(help: &str, heading: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let lines = help
        .lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        match entries.last_mut() {
            Some(last) if indent > 2 => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => entries.push(line.trim().to_string()),
        }
    }
    entries
}
