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
//! The scripts know exactly what argh accepts: options are `--long` or `-s`, each value is
//! the next word (argh has no `--opt=value`), the command is the first word after `gochat`
//! that is not an option (gochat's own options take no value), and `--` ends the options.
//! No file names are ever offered: no gochat argument is a file.

use std::fmt::Write as _;
use std::str::FromStr;

use argh::{ArgsInfo, CommandInfoWithArgs, FlagInfoKind, Optionality};

use crate::cli::Cli;

/// A shell `gochat completions` can write a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// GNU bash, with or without the bash-completion package.
    Bash,
    /// zsh, through its completion system (`compinit`).
    Zsh,
    /// fish.
    Fish,
}

impl Shell {
    /// Every shell, in the order help and errors list them.
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    /// The shell's name, as typed after `gochat completions`.
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The script's file name, as shipped in `completions/` and as each shell looks for it.
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "gochat.bash",
            Shell::Zsh => "_gochat",
            Shell::Fish => "gochat.fish",
        }
    }
}

/// Parses a shell name for `gochat completions SHELL`.
pub fn parse_shell(text: &str) -> Result<Shell, String> {
    Shell::ALL
        .into_iter()
        .find(|shell| shell.name() == text)
        .ok_or_else(|| format!("unknown shell {text:?}: use bash, zsh or fish"))
}

impl FromStr for Shell {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_shell(text)
    }
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let spec = Spec::from_cli();
    match shell {
        Shell::Bash => bash(&spec),
        Shell::Zsh => zsh(&spec),
        Shell::Fish => fish(&spec),
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
        let _ = write!(out, " {})", &rest[..end]);
    }
    out
}

/// The first line of every script.
fn banner(comment: &str, shell: Shell) -> String {
    format!(
        "{comment} {} completion for gochat. Generated by `gochat completions {}`: do not edit;\n\
         {comment} regenerate it instead (see README.md, \"Install\").\n",
        shell.name(),
        shell.name()
    )
}

/// Words joined by spaces. Every word the scripts list (command names, options, shell
/// names) is made of letters, digits and `-`, so none needs quoting.
fn words<S: AsRef<str>>(list: &[S]) -> String {
    list.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

fn bash(spec: &Spec) -> String {
    let mut out = banner("#", Shell::Bash);
    out.push_str(BASH_HEAD);
    let names: Vec<&str> = spec.commands.iter().map(|c| c.name).collect();
    let _ = writeln!(
        out,
        "        \"\") options=\"{}\" commands=\"{}\" ;;",
        words(&spec.top.option_words()),
        words(&names)
    );
    for command in &spec.commands {
        let _ = writeln!(
            out,
            "        {}) options=\"{}\" values=\"{}\" ;;",
            command.name,
            words(&command.option_words()),
            words(&command.value_options())
        );
    }
    out.push_str(BASH_MIDDLE);
    for command in &spec.commands {
        for (index, positional) in command.positionals.iter().enumerate() {
            if !positional.choices.is_empty() {
                let _ = writeln!(
                    out,
                    "        \"{} {index}\") choices=\"{}\" ;;",
                    command.name,
                    words(&positional.choices)
                );
            }
        }
    }
    out.push_str(BASH_TAIL);
    out
}

const BASH_HEAD: &str = r#"
# The command is the first word after gochat that is not an option (gochat's own options
# take no value). After it: an option's value is the next word, "--" ends the options, and
# ":" is rejoined to its address (bash splits words at ":").
_gochat() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local command="" options="" values="" commands="" choices="" word
    local -i i=1 positional=0 after_colon=0 options_done=0
    while ((i < COMP_CWORD)); do
        word=${COMP_WORDS[i]}
        i+=1
        if [[ $word != -* ]]; then
            command=$word
            break
        fi
    done
    case $command in
"#;

const BASH_MIDDLE: &str = r#"        *) return 0 ;;
    esac
    COMPREPLY=()
    if [[ -n $command ]]; then
        while ((i < COMP_CWORD)); do
            word=${COMP_WORDS[i]}
            i+=1
            if [[ -n $word && -z ${word//:/} ]]; then
                after_colon=1
            elif ((after_colon)); then
                after_colon=0
            elif ((!options_done)) && [[ $word == -- ]]; then
                options_done=1
            elif ((!options_done)) && [[ " $values " == *" $word "* ]]; then
                i+=1
            elif ((options_done)) || [[ $word != -* ]]; then
                positional+=1
            fi
        done
        if ((!options_done)) && [[ " $values " == *" $prev "* ]]; then
            return 0
        fi
        if [[ $cur == *:* || -n $prev && -z ${prev//:/} ]]; then
            return 0
        fi
    fi
    case "$command $positional" in
"#;

const BASH_TAIL: &str = r#"        *) choices=$commands ;;
    esac
    if [[ $cur == -* ]] && ((!options_done)); then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    elif [[ -n $choices ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
    elif [[ -z $cur && -n $command ]] && ((!options_done)); then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    fi
    return 0
}

complete -F _gochat gochat
"#;

/// Quotes text for a single-quoted zsh word.
fn zsh_quote(text: &str) -> String {
    text.replace('\'', "'\\''")
}

/// Escapes text for a single-quoted zsh word that `_arguments` parses again: its quotes,
/// and the backslashes, brackets and colons that would end a description or a message.
fn zsh_text(text: &str) -> String {
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
fn zsh_flag(flag: &FlagSpec) -> String {
    let about = zsh_text(&flag.about);
    let value = flag
        .value
        .map(|name| format!(":{}: ", zsh_text(name)))
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
fn zsh_positional(index: usize, positional: &PositionalSpec) -> String {
    let optional = if positional.required { "" } else { ":" };
    let message = zsh_text(&format!("{} -- {}", positional.name, positional.about));
    let action = if positional.choices.is_empty() {
        " ".to_string()
    } else {
        format!("({})", words(&positional.choices))
    };
    format!("'{}:{optional}{message}:{action}'", index + 1)
}

fn zsh_arguments(out: &mut String, indent: &str, specs: &[String]) {
    out.push_str("_arguments -S");
    for spec in specs {
        let _ = write!(out, " \\\n{indent}    {spec}");
    }
}

fn zsh(spec: &Spec) -> String {
    let mut out = String::from("#compdef gochat\n");
    out.push_str(&banner("#", Shell::Zsh));
    out.push_str(
        "# Install as _gochat in a directory on $fpath (before compinit runs), or source it.\n\n\
         _gochat() {\n    \
         local curcontext=$curcontext state state_descr line ret=1\n    \
         typeset -A opt_args\n    ",
    );
    let mut top: Vec<String> = spec.top.flags.iter().map(zsh_flag).collect();
    top.push("':command:_gochat_commands'".into());
    top.push("'*:: :->command'".into());
    zsh_arguments(&mut out, "    ", &top);
    out.push_str(
        " && ret=0\n    \
         [[ $state == command ]] || return ret\n    \
         curcontext=${curcontext%:*:*}:gochat-$words[1]:\n    \
         case $words[1] in\n",
    );
    for command in &spec.commands {
        let mut specs: Vec<String> = command.flags.iter().map(zsh_flag).collect();
        specs.extend(
            command
                .positionals
                .iter()
                .enumerate()
                .map(|(i, p)| zsh_positional(i, p)),
        );
        let _ = write!(out, "        ({})\n            ", command.name);
        zsh_arguments(&mut out, "            ", &specs);
        out.push_str(" && ret=0\n            ;;\n");
    }
    out.push_str("    esac\n    return ret\n}\n\n_gochat_commands() {\n    local -a commands=(\n");
    for command in &spec.commands {
        let _ = writeln!(
            out,
            "        '{}:{}'",
            command.name,
            zsh_quote(&command.about)
        );
    }
    out.push_str(ZSH_TAIL);
    out
}

const ZSH_TAIL: &str = r#"    )
    _describe -t commands 'gochat command' commands
}

# Autoloaded from $fpath, this file is the body of _gochat: define, then complete. Sourced,
# it registers the function instead.
if [[ $funcstack[1] == _gochat ]]; then
    _gochat "$@"
else
    compdef _gochat gochat
fi
"#;

/// Quotes text as one fish word.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One `complete` line for an option, offered when `condition` holds.
fn fish_flag(out: &mut String, condition: &str, flag: &FlagSpec) {
    let _ = write!(out, "complete -c gochat -n {}", fish_quote(condition));
    if let Some(c) = flag.short {
        let _ = write!(out, " -s {c}");
    }
    let _ = write!(out, " -l {}", flag.long);
    if flag.value.is_some() {
        out.push_str(" -x");
    }
    let _ = writeln!(out, " -d {}", fish_quote(&flag.about));
}

fn fish(spec: &Spec) -> String {
    let mut out = banner("#", Shell::Fish);
    out.push_str(FISH_HEAD);
    for flag in &spec.top.flags {
        fish_flag(&mut out, "__gochat_command_is ''", flag);
    }
    for command in &spec.commands {
        let _ = writeln!(
            out,
            "complete -c gochat -n {} -a {} -d {}",
            fish_quote("__gochat_command_is ''"),
            command.name,
            fish_quote(&command.about)
        );
    }
    for command in &spec.commands {
        let _ = writeln!(out, "\n# gochat {}", command.name);
        let values = words(&command.value_options());
        let condition = format!("__gochat_command_is {}", command.name);
        for flag in &command.flags {
            fish_flag(&mut out, &condition, flag);
        }
        for (index, positional) in command.positionals.iter().enumerate() {
            if positional.choices.is_empty() {
                continue;
            }
            let condition = format!("__gochat_positional_is {} {index} {values}", command.name);
            let _ = writeln!(
                out,
                "complete -c gochat -n {} -a {} -d {}",
                fish_quote(condition.trim_end()),
                fish_quote(&words(&positional.choices)),
                fish_quote(&positional.about)
            );
        }
    }
    out
}

const FISH_HEAD: &str = r#"
# The command is the first word after gochat that is not an option (gochat's own options
# take no value).
function __gochat_command
    for word in (commandline -opc)[2..-1]
        if not string match -q -- '-*' $word
            echo $word
            return
        end
    end
end

function __gochat_command_is -a want
    set -l command (__gochat_command)
    test "$command" = "$want"
end

# True when the word being completed is positional argument INDEX (from 0) of COMMAND.
# The rest of the arguments are the command's options that take a value.
function __gochat_positional_is -a command index
    set -l value_options $argv[3..-1]
    set -l words (commandline -opc)[2..-1]
    set -l count 0
    set -l seen_command 0
    set -l skip 0
    set -l options_done 0
    for word in $words
        if test $skip = 1
            set skip 0
        else if test $seen_command = 0
            if not string match -q -- '-*' $word
                test $word = $command; or return 1
                set seen_command 1
            end
        else if test $options_done = 0; and test $word = --
            set options_done 1
        else if test $options_done = 0; and contains -- $word $value_options
            set skip 1
        else if test $options_done = 1; or not string match -q -- '-*' $word
            set count (math $count + 1)
        end
    end
    test $seen_command = 1; and test $skip = 0; and test $count = $index
end

# No gochat argument is a file.
complete -c gochat -f

"#;

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
    fn shells_parse_by_name_and_nothing_else() {
        for shell in Shell::ALL {
            assert_eq!(parse_shell(shell.name()), Ok(shell));
        }
        assert!(
            parse_shell("tcsh")
                .unwrap_err()
                .contains("bash, zsh or fish")
        );
    }

    #[test]
    fn zsh_text_escapes_what_arguments_would_parse() {
        assert_eq!(zsh_text("a [b]: 'c'"), "a \\[b\\]\\: '\\''c'\\''");
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
