//! The fish script: helper functions that find the command and the positional argument
//! being completed, and one `complete` line per option, command and fixed choice
//! (template: `gochat.fish`).

use std::fmt::Write as _;

use super::{FlagSpec, Spec, banner, fill, words};
use crate::cli::Shell;

/// The script, written by hand but for its generated parts.
const TEMPLATE: &str = include_str!("gochat.fish");

/// The fish completion script for `spec`.
pub(super) fn script(spec: &Spec) -> String {
    let mut out = String::new();
    for flag in &spec.top.flags {
        complete_flag(&mut out, "__gochat_command_is ''", flag);
    }
    for command in &spec.commands {
        let _ = writeln!(
            out,
            "complete -c gochat -n {} -a {} -d {}",
            quote("__gochat_command_is ''"),
            command.name,
            quote(&command.about)
        );
    }
    for command in &spec.commands {
        let _ = writeln!(out, "\n# gochat {}", command.name);
        let values = words(&command.value_options());
        let condition = format!("__gochat_command_is {}", command.name);
        for flag in &command.flags {
            complete_flag(&mut out, &condition, flag);
        }
        for (index, positional) in command.positionals.iter().enumerate() {
            if positional.choices.is_empty() {
                continue;
            }
            let condition = format!("__gochat_positional_is {} {index} {values}", command.name);
            let _ = writeln!(
                out,
                "complete -c gochat -n {} -a {} -d {}",
                quote(condition.trim_end()),
                quote(&words(&positional.choices)),
                quote(&positional.about)
            );
        }
    }
    let script = fill(TEMPLATE, "banner", &banner(Shell::Fish));
    fill(&script, "completions", &out)
}

/// Quotes text as one fish word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One `complete` line for an option, offered when `condition` holds.
fn complete_flag(out: &mut String, condition: &str, flag: &FlagSpec) {
    let _ = write!(out, "complete -c gochat -n {}", quote(condition));
    if let Some(c) = flag.short {
        let _ = write!(out, " -s {c}");
    }
    let _ = write!(out, " -l {}", flag.long);
    if flag.value.is_some() {
        out.push_str(" -x");
    }
    let _ = writeln!(out, " -d {}", quote(&flag.about));
}
