//! The command line as people meet it: `--help` (every option with its default and an
//! example), `--version`, exit statuses, and the shell completion scripts, which must match
//! the shipped copies in `completions/` and must actually complete in bash, zsh and fish.
//!
//! Each shell is driven non-interactively: bash by calling the completion function with
//! `COMP_WORDS` set, fish with `complete -C`, zsh through `compinit` on a pseudo-terminal
//! (`zpty`) with a TAB typed. A test whose shell is not installed shows as ignored (see
//! `tests/common/tools.rs`).
//!
//! `gochat connect` on a terminal is driven through script(1), which gives it a
//! pseudo-terminal and types for us: Ctrl-D and Ctrl-C must end it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Terminal, gochat, help, help_section, run, run_command, tool};
use gochat::cli::{Cli, Command as Sub, DEFAULT_LAG_LIMIT, DEFAULT_MAX_CLIENTS, DEFAULT_SENDQ};
use gochat::cli::{DEFAULT_HISTORY_BYTES, DEFAULT_THREADS, MAX_HISTORY, MAX_THREADS, ServeArgs};
use gochat::codec::DEFAULT_MAX_LINE;
use gochat::units::{parse_bytes, parse_duration};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The long options a help text lists, `--help` included.
fn long_options(help: &str) -> BTreeSet<String> {
    help_section(help, "Options:")
        .iter()
        .flat_map(|entry| entry.split([' ', ',']))
        .filter(|word| word.starts_with("--"))
        .map(str::to_string)
        .collect()
}

/// What an option's help says its default is: the text after "(default" up to `;`.
fn stated_default(help: &str, option: &str) -> String {
    let entry = help_section(help, "Options:")
        .into_iter()
        .chain(help_section(help, "Positional Arguments:"))
        .find(|e| e.split([' ', ',']).any(|w| w == option))
        .unwrap_or_else(|| panic!("{option} is not in the help:\n{help}"));
    let start = entry
        .find("(default")
        .unwrap_or_else(|| panic!("{option} states no default: {entry}"));
    let rest = &entry[start + "(default".len()..];
    let end = rest.find([';', ')']).unwrap_or(rest.len());
    rest[..end].trim_start_matches(':').trim().to_string()
}

const COMMANDS: [&str; 3] = ["serve", "connect", "completions"];

#[test]
fn every_help_succeeds_and_documents_the_exit_statuses() {
    for args in [&[][..], &["serve"], &["connect"], &["completions"]] {
        let text = help(args);
        assert!(text.starts_with("Usage: gochat"), "{args:?}:\n{text}");
        assert!(
            text.contains("\nExamples:\n"),
            "{args:?} has no example:\n{text}"
        );
        let codes = help_section(&text, "Error codes:");
        let numbers: Vec<&str> = codes.iter().filter_map(|c| c.split(' ').next()).collect();
        assert_eq!(numbers, ["0", "1", "2"], "{args:?}:\n{text}");
    }
    let top = help(&[]);
    for command in COMMANDS {
        assert!(
            help_section(&top, "Commands:")
                .iter()
                .any(|e| e.starts_with(command)),
            "gochat --help does not list {command}:\n{top}"
        );
    }
}

#[test]
fn every_option_states_its_default_and_shows_an_example() {
    for command in ["serve", "connect"] {
        let text = help(&[command]);
        for entry in help_section(&text, "Options:") {
            if entry.starts_with("--help") {
                continue;
            }
            assert!(entry.contains("(default"), "{command}: no default: {entry}");
            let takes_value = text.contains(&format!(
                "[{} <",
                entry
                    .split([' ', ','])
                    .find(|w| w.starts_with("--"))
                    .unwrap_or("?")
            ));
            if takes_value {
                assert!(entry.contains("e.g. --"), "{command}: no example: {entry}");
            }
        }
        for entry in help_section(&text, "Positional Arguments:") {
            assert!(entry.contains("(default"), "{command}: no default: {entry}");
            assert!(entry.contains("e.g. "), "{command}: no example: {entry}");
        }
    }
}

#[test]
fn the_defaults_help_states_are_the_defaults_the_binary_uses() {
    let text = help(&["serve"]);
    let parsed = <Cli as argh::FromArgs>::from_args(&["gochat"], &["serve"]).expect("parses");
    let Some(Sub::Serve(serve)) = parsed.command else {
        panic!("not serve")
    };
    let ServeArgs {
        addr,
        max_line,
        sendq,
        lag_limit,
        max_clients,
        idle_timeout,
        history,
        history_bytes,
        threads,
        redis,
        room,
        verbose,
    } = serve;
    let first_word = |s: String| s.split([' ', ',']).next().unwrap_or_default().to_string();
    assert_eq!(first_word(stated_default(&text, "addr")), addr);
    assert_eq!(addr, ":8000");
    assert_eq!(
        parse_bytes(&stated_default(&text, "--max-line")),
        Ok(max_line)
    );
    assert_eq!(max_line, DEFAULT_MAX_LINE);
    assert_eq!(parse_bytes(&stated_default(&text, "--sendq")), Ok(sendq));
    assert_eq!(sendq, DEFAULT_SENDQ);
    assert_eq!(
        parse_duration(&stated_default(&text, "--lag-limit")),
        Ok(lag_limit)
    );
    assert_eq!(lag_limit, DEFAULT_LAG_LIMIT);
    assert_eq!(max_clients, None);
    assert_eq!(
        first_word(stated_default(&text, "--max-clients")),
        DEFAULT_MAX_CLIENTS.to_string()
    );
    assert_eq!(idle_timeout, None);
    assert_eq!(stated_default(&text, "--idle-timeout"), "never");
    assert_eq!(
        first_word(stated_default(&text, "--history")),
        history.to_string()
    );
    let entry = |option: &str| {
        help_section(&text, "Options:")
            .into_iter()
            .find(|e| e.starts_with(option))
            .unwrap_or_default()
    };
    assert!(entry("--history ").contains(&format!("at most {MAX_HISTORY};")));
    assert_eq!(
        parse_bytes(&first_word(stated_default(&text, "--history-bytes"))),
        Ok(history_bytes)
    );
    assert_eq!(history_bytes, DEFAULT_HISTORY_BYTES);
    assert!(entry("--history-bytes").contains("at most 64MiB;"));
    assert_eq!(threads, DEFAULT_THREADS);
    assert_eq!(first_word(stated_default(&text, "--threads")), "1");
    assert!(entry("--threads").contains(&format!("at most {MAX_THREADS};")));
    assert_eq!(redis, None);
    assert_eq!(first_word(stated_default(&text, "--redis")), "none");
    assert_eq!(first_word(stated_default(&text, "--room")), room);
    assert!(!verbose);
    assert_eq!(stated_default(&text, "--verbose"), "off");

    let text = help(&["connect"]);
    let parsed = <Cli as argh::FromArgs>::from_args(&["gochat"], &["connect"]).expect("parses");
    let Some(Sub::Connect(connect)) = parsed.command else {
        panic!("not connect")
    };
    assert_eq!(first_word(stated_default(&text, "addr")), connect.addr);
    assert_eq!(connect.addr, "localhost:8000");
    assert_eq!(
        parse_bytes(&stated_default(&text, "--max-line")),
        Ok(connect.max_line)
    );
    assert_eq!(connect.name, None);
    assert!(!connect.raw);
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-V"] {
        let (status, out, err) = run(&[flag]);
        assert!(status.success(), "{flag}: {status:?} {err}");
        assert_eq!(out, format!("gochat {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn bad_usage_exits_2_with_one_clean_line() {
    let cases: [(&[&str], &str); 8] = [
        (&[], "missing command"),
        (&["serve", "--bogus"], "--bogus"),
        (&["serve", "--max-line", "lots"], "lots"),
        (&["completions"], "shell"),
        (&["completions", "tcsh"], "bash, zsh or fish"),
        (
            &["serve", "--threads", "1000000"],
            "Error parsing option '--threads' with value '1000000': at most 256 worker threads",
        ),
        (
            &["serve", "--threads", "0"],
            "Error parsing option '--threads' with value '0': at least 1 worker thread",
        ),
        (
            &["serve", "--room", "bad/name"],
            "invalid room name \"bad/name\": room names are 1 to 32",
        ),
    ];
    for (args, want) in cases {
        let (status, out, err) = run(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} wrote to stdout: {out}");
        common::assert_clean_error(&err, want);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
    }
}

#[test]
fn an_argument_that_is_not_utf8_is_bad_usage() {
    use std::os::unix::ffi::OsStrExt;
    for args in [
        &[&b"serve"[..], b"\xff"][..],
        &[b"connect", b"--name", b"ad\xe9"],
    ] {
        let mut command = gochat();
        command.args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)));
        let (status, out, err) = run_command(&mut command);
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} wrote to stdout: {out}");
        let bad = args.last().unwrap().escape_ascii();
        assert_eq!(
            err,
            format!("gochat: argument \"{bad}\" is not UTF-8 (run gochat --help)\n"),
            "{args:?}"
        );
    }
}

/// The shipped script for a shell, and how to regenerate it.
fn shipped(shell: &str) -> (PathBuf, String) {
    let file = match shell {
        "bash" => "completions/gochat.bash",
        "zsh" => "completions/_gochat",
        "fish" => "completions/gochat.fish",
        _ => unreachable!("{shell}"),
    };
    let how = format!("cargo run -- completions {shell} > {file}");
    (repo(file), how)
}

#[test]
fn shipped_completion_scripts_match_the_binary() {
    for shell in ["bash", "zsh", "fish"] {
        let (status, generated, err) = run(&["completions", shell]);
        assert!(status.success(), "{shell}: {status:?} {err}");
        let (path, how) = shipped(shell);
        let on_disk = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; create it: {how}", path.display()));
        assert!(
            on_disk == generated,
            "{} is out of date with the command line; regenerate it: {how}",
            path.display()
        );
    }
}

/// What bash's completion for `gochat` offers when the cursor is at the end of the last of
/// `words` (an empty last word completes a new word). Fails if the function leaves any
/// variable behind other than COMPREPLY.
fn bash_complete(bash: &Path, words: &[&str]) -> Vec<String> {
    const HARNESS: &str = r#"
        source "$1"; shift
        spec=$(complete -p gochat) || exit 3
        fn=${spec#*-F }; fn=${fn%% *}
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        COMP_TYPE=9 COMP_KEY=9 COMPREPLY=() before="" name="" word=""
        before=$(compgen -v)
        "$fn" gochat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        for name in $(compgen -v); do
            [[ $name == COMPREPLY || $'\n'$before$'\n' == *$'\n'$name$'\n'* ]] || echo "LEAK $name"
        done
        for word in "${COMPREPLY[@]}"; do echo "REPLY $word"; done
    "#;
    let (path, _) = shipped("bash");
    let (status, out, err) = run_command(
        Command::new(bash)
            .args(["--norc", "--noprofile", "-c", HARNESS, "harness"])
            .arg(path)
            .args(words),
    );
    assert!(status.success(), "bash {words:?}: {status:?} {err}");
    assert!(err.is_empty(), "bash {words:?} complained: {err}");
    let leaks: Vec<&str> = out.lines().filter(|l| l.starts_with("LEAK ")).collect();
    assert!(leaks.is_empty(), "bash {words:?} left globals: {leaks:?}");
    let mut replies: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("REPLY "))
        .map(str::to_string)
        .collect();
    replies.sort();
    replies
}

fn sorted(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out.sort();
    out
}

#[test]
#[cfg_attr(not(has_bash), ignore = "needs bash: apt-get install bash")]
fn bash_completes_commands_options_and_shells() {
    let bash = tool("bash");
    let complete = |words: &[&str]| bash_complete(&bash, words);
    assert_eq!(complete(&["gochat", "se"]), ["serve"]);
    assert_eq!(
        complete(&["gochat", ""]),
        sorted(&["serve", "connect", "completions"])
    );
    assert_eq!(
        complete(&["gochat", "-"]),
        sorted(&["-V", "--version", "--help"])
    );
    for command in ["serve", "connect"] {
        let offered: BTreeSet<String> = complete(&["gochat", command, "--"]).into_iter().collect();
        assert_eq!(offered, long_options(&help(&[command])), "{command}");
    }
    let serve = complete(&["gochat", "serve", "--"]);
    assert!(serve.contains(&"--max-line".to_string()) && serve.contains(&"--history".into()));
    assert_eq!(
        complete(&["gochat", "completions", ""]),
        sorted(&["bash", "zsh", "fish"])
    );
    assert_eq!(complete(&["gochat", "completions", "z"]), ["zsh"]);
    // An option's value is the user's to type: nothing is offered, not even files.
    assert!(complete(&["gochat", "serve", "--max-line", ""]).is_empty());
    // The command is the first word that is not an option, not any word that looks like one.
    assert_eq!(
        complete(&["gochat", "connect", "--name", "serve", "--r"]),
        ["--raw"]
    );
    assert!(!complete(&["gochat", "completions", "bash", ""]).contains(&"zsh".into()));
    // bash splits "lab-box:8000" at the colon; the address is still one argument.
    assert!(complete(&["gochat", "connect", "lab-box", ":", "8000", ""]).contains(&"--raw".into()));
}

#[test]
#[cfg_attr(
    not(has_shellcheck),
    ignore = "needs shellcheck: apt-get install shellcheck"
)]
fn the_bash_script_and_its_template_pass_shellcheck() {
    let (path, _) = shipped("bash");
    for script in [path, repo("src/completions/gochat.bash")] {
        let (status, out, err) = run_command(
            Command::new(tool("shellcheck"))
                .args(["--shell=bash", "--severity=style"])
                .arg(&script),
        );
        assert!(
            status.success() && out.is_empty() && err.is_empty(),
            "shellcheck finds fault with {}:\n{out}{err}",
            script.display()
        );
    }
}

/// What fish offers for the command line `line` (cursor at its end): the words, sorted.
fn fish_complete(fish: &Path, line: &str) -> Vec<String> {
    let (path, _) = shipped("fish");
    let (status, out, err) = run_command(
        Command::new(fish)
            .args([
                "--no-config",
                "-c",
                "source $argv[1]; and complete -C $argv[2]",
            ])
            .arg(path)
            .arg(line),
    );
    assert!(status.success(), "fish {line:?}: {status:?} {err}");
    assert!(err.is_empty(), "fish {line:?} complained: {err}");
    let mut words: Vec<String> = out
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    words.sort();
    words
}

#[test]
#[cfg_attr(not(has_fish), ignore = "needs fish: apt-get install fish")]
fn fish_completes_commands_options_and_shells() {
    let fish = tool("fish");
    let (path, _) = shipped("fish");
    for script in [path, repo("src/completions/gochat.fish")] {
        let (status, _, err) = run_command(Command::new(&fish).arg("--no-execute").arg(&script));
        assert!(
            status.success() && err.is_empty(),
            "fish rejects {}: {err}",
            script.display()
        );
    }
    let complete = |line: &str| fish_complete(&fish, line);
    assert_eq!(complete("gochat se"), ["serve"]);
    assert_eq!(
        complete("gochat "),
        sorted(&["serve", "connect", "completions"])
    );
    for command in ["serve", "connect"] {
        let offered: BTreeSet<String> = complete(&format!("gochat {command} --"))
            .into_iter()
            .collect();
        assert_eq!(offered, long_options(&help(&[command])), "{command}");
    }
    assert_eq!(
        complete("gochat completions "),
        sorted(&["bash", "zsh", "fish"])
    );
    assert!(complete("gochat serve --max-line ").is_empty());
    assert!(complete("gochat completions bash ").is_empty());
    assert_eq!(complete("gochat connect --name serve --r"), ["--raw"]);
}

/// Types `line` and a TAB into an interactive `zsh -f` on a pseudo-terminal (zsh's own
/// `zpty`), with `compinit` loading `_gochat` from `completions/`, and reports what the
/// completion system offered: `MATCH<word>`, `GROUP<description>`, `MSG<message>` lines.
const ZSH_HARNESS: &str = r#"
zmodload zsh/zpty || { print -u2 "zsh/zpty is missing"; exit 3 }
zpty z zsh -f -i
zpty -w z "PS1='' RPS1=''; unsetopt beep; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*:descriptions' format '%d'; zstyle ':completion:*:messages' format '%d'; bindkey '^I' complete-word"
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a hits; builtin compadd -A hits "$@"
  local h; for h in $hits; do print -r -- "MA""TCH<$h>"; done
  local i=${@[(i)-X]}; (( i < $# )) && print -r -- "GR""OUP<${@[i+1]}>"
  i=${@[(i)-x]}; (( i < $# )) && print -r -- "M""SG<${@[i+1]}>"
  builtin compadd "$@"
}'
zpty -w z 'compprefuncs=(print); comppostfuncs=(__gochat_test_done); __gochat_test_done() { print -r -- "E""ND<>"; exit }'
zpty -w z "$2"$'\t'
zpty -r z out '*END<>*'
print -rl -- ${(M)${(f)out//$'\r'}:#(MATCH|GROUP|MSG)<*}
"#;

/// What zsh offers for `line`: (sorted matches, group descriptions, messages).
fn zsh_complete(zsh: &Path, line: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (status, out, err) = run_command(
        Command::new(zsh)
            .args(["-f", "-c", ZSH_HARNESS, "harness"])
            .arg(repo("completions"))
            .arg(line),
    );
    assert!(status.success(), "zsh {line:?}: {status:?} {err}");
    let pick = |tag: &str| -> Vec<String> {
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix(tag)?.strip_suffix('>'))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    (pick("MATCH<"), pick("GROUP<"), pick("MSG<"))
}

#[test]
#[cfg_attr(not(has_zsh), ignore = "needs zsh: apt-get install zsh")]
fn zsh_completes_commands_options_and_shells() {
    let zsh = tool("zsh");
    let (path, _) = shipped("zsh");
    for script in [path, repo("src/completions/_gochat.zsh")] {
        let (status, _, err) = run_command(Command::new(&zsh).arg("-n").arg(&script));
        assert!(
            status.success() && err.is_empty(),
            "zsh -n rejects {}: {err}",
            script.display()
        );
    }

    let (matches, groups, _) = zsh_complete(&zsh, "gochat ");
    assert_eq!(matches, sorted(&["serve", "connect", "completions"]));
    assert_eq!(
        groups,
        ["gochat command"],
        "no Rust type names in the listing"
    );
    assert_eq!(zsh_complete(&zsh, "gochat se").0, ["serve"]);
    for command in ["serve", "connect"] {
        let offered: BTreeSet<String> = zsh_complete(&zsh, &format!("gochat {command} --"))
            .0
            .into_iter()
            .collect();
        assert_eq!(offered, long_options(&help(&[command])), "{command}");
    }
    assert_eq!(
        zsh_complete(&zsh, "gochat completions ").0,
        sorted(&["bash", "zsh", "fish"])
    );
    let (matches, _, messages) = zsh_complete(&zsh, "gochat serve --max-line ");
    assert!(matches.is_empty(), "{matches:?}");
    assert_eq!(messages, ["bytes"]);
    assert_eq!(
        zsh_complete(&zsh, "gochat connect --name serve --r").0,
        ["--raw"]
    );
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_in_a_terminal_leaves_on_ctrl_d_and_ctrl_c() {
    let server = common::Server::start(&[]);
    // Ctrl-D on an empty line: end of input, the client leaves cleanly.
    let mut term = Terminal::gochat(&format!("connect {}", server.addr));
    term.expect("You are ");
    term.type_keys(b"\x04");
    assert!(term.exits().success(), "Ctrl-D must exit 0");

    // Ctrl-C after a line: the line was sent (and shown twice: typed, then echoed by the
    // room), and the client leaves at once.
    let mut term = Terminal::gochat(&format!("connect {}", server.addr));
    term.expect("You are ");
    term.type_keys(b"hello\r");
    term.expect(": hello");
    term.type_keys(b"\x03");
    let status = term.exits();
    assert!(!status.success(), "Ctrl-C interrupts: {status:?}");
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_in_a_terminal_leaves_on_ctrl_d_after_a_line() {
    let server = common::Server::start(&[]);
    let mut term = Terminal::gochat(&format!("connect {}", server.addr));
    term.expect("You are ");
    term.type_keys(b"hello\r");
    term.expect(": hello");
    term.type_keys(b"\x04");
    assert!(term.exits().success(), "Ctrl-D must exit 0");
}
