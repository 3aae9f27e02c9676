//! Shell completion scripts for bash, zsh and fish, generated from the command line's own
//! description ([`argh::ArgsInfo`] on the [`crate::cli`] types).
//!
//! Generating them (rather than writing three scripts by hand) means a new option or
//! command cannot be forgotten in one shell: `gochat completions SHELL` prints the script,
//! the copies shipped in `completions/` are checked against it by `tests/cli.rs`, and the
//! same tests drive each shell to prove the scripts work. We generate them ourselves rather
//! than with the `argh_complete` crate because its 0.1.19 scripts do not work here: the fish
//! one uses `commandline -x` (rejected by fish 3.6), the bash one leaks a global and takes
//! any word for the command, zsh shows the Rust type name, and none completes a positional.
//!
//! Each shell has a file here that turns the command line into its script ([`bash`],
//! [`zsh`], [`fish`]), and a template beside it (`gochat.bash`, `_gochat.zsh`,
//! `gochat.fish`): the script as written by hand, where each generated part is one line
//! `# @NAME@ what goes here`. A template is a valid script of its shell, so the shell's own
//! linters read it (`shellcheck gochat.bash`, `zsh -n`, `fish --no-execute`).
//!
//! The scripts know exactly what argh accepts: options are `--long` or `-s`, each value is
//! the next word (argh has no `--opt=value`), the command is the first word after `gochat`
//! that is not an option (gochat's own options take no value), and `--` ends the options.
//! No file names are ever offered: no gochat argument is a file.

mod bash;
mod fish;
mod zsh;

use argh::{ArgsInfo, CommandInfoWithArgs, FlagInfoKind, Optionality};

use crate::cli::{Cli, Shell};

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let spec = Spec::from_cli();
    match shell {
        Shell::Bash => bash::script(&spec),
        Shell::Zsh => zsh::script(&spec),
        Shell::Fish => fish::script(&spec),
    }
}

/// The words a positional argument can take, where there is a fixed list. Everything else
/// (addresses) is left to the user.
fn positional_choices(command: &str, positional: &str) -> Vec<&'static str> {
    match (command, positional) {
        ("completions", "shell") => Shell::ALL.iter().map(|s| s.name()).collect(),
        _ => Vec::new(),
    }
}

/// The command line as the scripts need it: `gochat`'s own options and its commands.
struct Spec {
    top: CommandSpec,
    commands: Vec<CommandSpec>,
}

/// One command: its options and positional arguments.
struct CommandSpec {
    name: &'static str,
    about: String,
    flags: Vec<FlagSpec>,
    positionals: Vec<PositionalSpec>,
}

/// One option or switch.
struct FlagSpec {
    /// Without the dashes.
    long: &'static str,
    short: Option<char>,
    about: String,
    /// What the value is called, for options that take one.
    value: Option<&'static str>,
}

/// One positional argument.
struct PositionalSpec {
    name: &'static str,
    about: String,
    required: bool,
    choices: Vec<&'static str>,
}

impl Spec {
    fn from_cli() -> Spec {
        let info = Cli::get_args_info();
        let commands = info
            .commands
            .iter()
            .map(|sub| CommandSpec::from_info(sub.name, &sub.command))
            .collect();
        Spec {
            top: CommandSpec::from_info("gochat", &info),
            commands,
        }
    }
}

impl CommandSpec {
    fn from_info(name: &'static str, info: &CommandInfoWithArgs) -> CommandSpec {
        let flags = info
            .flags
            .iter()
            .filter(|f| !f.hidden)
            .map(|f| FlagSpec {
                long: f.long.trim_start_matches('-'),
                short: f.short,
                about: summary(f.description),
                value: match f.kind {
                    FlagInfoKind::Option { arg_name } => Some(arg_name),
                    FlagInfoKind::Switch => None,
                },
            })
            .collect();
        let positionals = info
            .positionals
            .iter()
            .filter(|p| !p.hidden)
            .map(|p| PositionalSpec {
                name: p.name,
                about: summary(p.description),
                required: p.optionality == Optionality::Required,
                choices: positional_choices(name, p.name),
            })
            .collect();
        CommandSpec {
            name,
            about: summary(info.description),
            flags,
            positionals,
        }
    }

    /// The options that take a value (the next word), with their dashes.
    fn value_options(&self) -> Vec<String> {
        let mut words = Vec::new();
        for flag in self.flags.iter().filter(|f| f.value.is_some()) {
            words.extend(flag.spellings());
        }
        words
    }

    /// Every spelling of every option, with dashes.
    fn option_words(&self) -> Vec<String> {
        self.flags.iter().flat_map(FlagSpec::spellings).collect()
    }
}

impl FlagSpec {
    /// `-s` (if any) and `--long`.
    fn spellings(&self) -> Vec<String> {
        let mut words: Vec<String> = self.short.iter().map(|c| format!("-{c}")).collect();
        words.push(format!("--{}", self.long));
        words
    }
}

/// A help text cut to what fits beside a completion: the first clause, then the default
/// if the text names one. "longest line in bytes; longer lines are cut into pieces
/// (default 4096; e.g. --max-line 64KiB)" becomes "longest line in bytes (default 4096)".
fn summary(description: &str) -> String {
    let text = description.trim().trim_end_matches('.');
    let head_end = [": ", "; ", " ("]
        .iter()
        .filter_map(|cut| text.find(cut))
        .min()
        .unwrap_or(text.len());
    let mut out = text[..head_end].to_string();
    if let Some(start) = text.find("(default") {
        let rest = &text[start..];
        let end = rest.find([';', ',', ')']).unwrap_or(rest.len());
        out.push(' ');
        out.push_str(&rest[..end]);
        out.push(')');
    }
    out
}

/// The first lines of every script: what it is, and that it is generated.
fn banner(shell: Shell) -> String {
    format!(
        "# {0} completion for gochat. Generated by `gochat completions {0}`: do not edit;\n\
         # regenerate it instead (see README.md, \"Install\").\n",
        shell.name()
    )
}

/// A template with its line `# @NAME@ ...` (indented or not) replaced by `text`, which
/// brings its own indentation and ends with a newline. The tests generate every script, so
/// a marker a template lacks cannot go unnoticed.
fn fill(template: &str, name: &str, text: &str) -> String {
    let marker = format!("# @{name}@ ");
    let Some(at) = template.find(&marker) else {
        return template.to_string();
    };
    let line_start = template[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = template[at..]
        .find('\n')
        .map_or(template.len(), |i| at + i + 1);
    format!("{}{text}{}", &template[..line_start], &template[line_end..])
}

/// Words joined by spaces. Every word the scripts list (command names, options, shell
/// names) is made of letters, digits and `-`, so none needs quoting.
fn words<S: AsRef<str>>(list: &[S]) -> String {
    list.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_the_first_clause_and_the_default() {
        assert_eq!(
            summary("longest line in bytes; longer lines are cut (default 4096; e.g. --x 1)"),
            "longest line in bytes (default 4096)"
        );
        assert_eq!(
            summary("remove members silent this long (default: never; e.g. 30m)"),
            "remove members silent this long (default: never)"
        );
        assert_eq!(
            summary("Open a chat room that anyone can join."),
            "Open a chat room that anyone can join"
        );
    }

    #[test]
    fn fill_replaces_the_whole_marker_line() {
        let template = "a\n    # @part@ what goes here\nb\n";
        assert_eq!(fill(template, "part", "  x\n  y\n"), "a\n  x\n  y\nb\n");
        assert_eq!(fill(template, "other", "x\n"), template);
    }

    #[test]
    fn every_marker_of_every_template_is_filled() {
        for shell in Shell::ALL {
            let text = script(shell);
            assert!(!text.contains("# @"), "{shell:?} left a marker:\n{text}");
            assert!(text.starts_with(match shell {
                Shell::Zsh => "#compdef gochat\n# zsh completion for gochat.",
                _ => "# ",
            }));
        }
    }

    #[test]
    fn every_command_and_option_reaches_every_script() {
        let spec = Spec::from_cli();
        for shell in Shell::ALL {
            let text = script(shell);
            for command in &spec.commands {
                assert!(text.contains(command.name), "{shell:?}: {}", command.name);
                for flag in &command.flags {
                    assert!(text.contains(flag.long), "{shell:?}: --{}", flag.long);
                }
            }
        }
    }
}
