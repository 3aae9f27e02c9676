//! The bash script: a completion function that finds the command and the argument being
//! completed, then offers options or fixed words with `compgen` (template: `gochat.bash`).

use std::fmt::Write as _;

use super::{Spec, banner, fill, words};
use crate::cli::Shell;

/// The script, written by hand but for its generated parts.
const TEMPLATE: &str = include_str!("gochat.bash");

/// The bash completion script for `spec`.
pub(super) fn script(spec: &Spec) -> String {
    let names: Vec<&str> = spec.commands.iter().map(|c| c.name).collect();
    let top = format!(
        "            options=\"{}\" commands=\"{}\"\n",
        words(&spec.top.option_words()),
        words(&names)
    );
    let mut options = String::new();
    for command in &spec.commands {
        let _ = writeln!(
            options,
            "        {}) options=\"{}\" values=\"{}\" ;;",
            command.name,
            words(&command.option_words()),
            words(&command.value_options())
        );
    }
    let mut choices = String::new();
    for command in &spec.commands {
        for (index, positional) in command.positionals.iter().enumerate() {
            if !positional.choices.is_empty() {
                let _ = writeln!(
                    choices,
                    "        \"{} {index}\") choices=\"{}\" ;;",
                    command.name,
                    words(&positional.choices)
                );
            }
        }
    }
    let script = fill(TEMPLATE, "banner", &banner(Shell::Bash));
    let script = fill(&script, "top", &top);
    let script = fill(&script, "options", &options);
    fill(&script, "choices", &choices)
}
