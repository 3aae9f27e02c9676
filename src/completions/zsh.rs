//! The zsh script: one `_arguments` call for gochat's own options and one per command,
//! for zsh's completion system (template: `_gochat.zsh`).

use std::fmt::Write as _;

use super::{FlagSpec, PositionalSpec, Spec, banner, fill, words};
use crate::cli::Shell;

/// The script, written by hand but for its generated parts.
const TEMPLATE: &str = include_str!("_gochat.zsh");

/// The zsh completion script for `spec`.
pub(super) fn script(spec: &Spec) -> String {
    let mut top: Vec<String> = spec.top.flags.iter().map(flag).collect();
    top.push("':command:_gochat_commands'".into());
    top.push("'*:: :->command'".into());
    let options = format!("    {} && ret=0\n", arguments("    ", &top));

    let mut commands = String::new();
    for command in &spec.commands {
        let mut specs: Vec<String> = command.flags.iter().map(flag).collect();
        specs.extend(
            command
                .positionals
                .iter()
                .enumerate()
                .map(|(i, p)| positional(i, p)),
        );
        let _ = write!(
            commands,
            "        ({})\n            {} && ret=0\n            ;;\n",
            command.name,
            arguments("            ", &specs)
        );
    }

    let mut descriptions = String::new();
    for command in &spec.commands {
        let _ = writeln!(
            descriptions,
            "        '{}:{}'",
            command.name,
            quote(&command.about)
        );
    }

    let script = fill(TEMPLATE, "banner", &banner(Shell::Zsh));
    let script = fill(&script, "options", &options);
    let script = fill(&script, "commands", &commands);
    fill(&script, "descriptions", &descriptions)
}

/// Quotes text for a single-quoted zsh word.
fn quote(text: &str) -> String {
    text.replace('\'', "'\\''")
}

/// Escapes text for a single-quoted zsh word that `_arguments` parses again: its quotes,
/// and the backslashes, brackets and colons that would end a description or a message.
fn arguments_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '\\' | '[' | ']' | ':' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// One `_arguments` spec per option: the spellings it excludes once given, a description,
/// and for options with a value, the value's name (shown as a message; nothing is offered).
/// `--help` and `--version` exclude everything else, as argh stops at them.
fn flag(flag: &FlagSpec) -> String {
    let about = arguments_text(&flag.about);
    let value = flag
        .value
        .map(|name| format!(":{}: ", arguments_text(name)))
        .unwrap_or_default();
    let stops = matches!(flag.long, "help" | "version");
    match flag.short {
        Some(c) => {
            let exclusive = if stops {
                "(- : *)".to_string()
            } else {
                format!("(-{c} --{})", flag.long)
            };
            format!("'{exclusive}'{{-{c},--{}}}'[{about}]{value}'", flag.long)
        }
        None => {
            let exclusive = if stops { "(- : *)" } else { "" };
            format!("'{exclusive}--{}[{about}]{value}'", flag.long)
        }
    }
}

/// The `_arguments` spec of a positional argument: its choices, or just its name.
fn positional(index: usize, positional: &PositionalSpec) -> String {
    let optional = if positional.required { "" } else { ":" };
    let message = arguments_text(&format!("{} -- {}", positional.name, positional.about));
    let action = if positional.choices.is_empty() {
        " ".to_string()
    } else {
        format!("({})", words(&positional.choices))
    };
    format!("'{}:{optional}{message}:{action}'", index + 1)
}

/// `_arguments -S` with one spec per line, continued with `\`.
fn arguments(indent: &str, specs: &[String]) -> String {
    let mut out = String::from("_arguments -S");
    for spec in specs {
        let _ = write!(out, " \\\n{indent}    {spec}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_text_escapes_what_arguments_would_parse() {
        assert_eq!(arguments_text("a [b]: 'c'"), "a \\[b\\]\\: '\\''c'\\''");
    }
}
