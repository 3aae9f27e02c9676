//! The shipped documents tell the truth about the binary.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{help, help_section, run_command, tool};

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn readme_starts_with_the_two_commands_a_newcomer_runs() {
    let readme = read("README.md");
    let first_block: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(
        readme.lines().take(8).any(|l| l.starts_with("```")),
        "README must open with the commands, not bury them"
    );
    assert!(
        first_block
            .iter()
            .any(|l| l.starts_with("cargo run --release -- serve :8000")),
        "first block must start a room: {first_block:?}"
    );
    assert!(
        first_block.iter().any(|l| l.starts_with("cargo test")),
        "first block must run the tests: {first_block:?}"
    );
}

#[test]
fn ci_runs_the_readmes_test_command() {
    let ci = read(".ci/run");
    assert!(ci.lines().any(|l| l.trim() == "cargo test"), "{ci}");
    assert!(ci.contains("cargo fmt --check"));
    assert!(ci.contains("cargo clippy --all-targets -- -D warnings"));
    assert!(ci.contains("cargo build --no-default-features"));
    assert!(ci.contains("cargo clippy --no-default-features --all-targets -- -D warnings"));
}

/// Roff source as a reader sees it, near enough to search: `\-` is `-`, quotes and font
/// escapes are gone, and macro names are dropped.
fn deroff(roff: &str) -> String {
    roff.lines()
        .map(|line| match line.strip_prefix('.') {
            Some(rest) => rest.split_once(' ').map(|(_, args)| args).unwrap_or(""),
            None => line,
        })
        .collect::<Vec<_>>()
        .join(" ")
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\c", "")
        .replace("\\&", "")
        .replace('"', "")
}

/// The man page's section `.SH NAME` (or subsection `.SS NAME`), up to the next one.
fn man_part<'a>(man: &'a str, mac: &str, name: &str) -> &'a str {
    let quoted = format!("{mac} \"{name}\"\n");
    let plain = format!("{mac} {name}\n");
    let start = man
        .find(&quoted)
        .map(|i| i + quoted.len())
        .or_else(|| man.find(&plain).map(|i| i + plain.len()))
        .unwrap_or_else(|| panic!("man/gochat.1 has no {mac} {name}"));
    let rest = &man[start..];
    let end = [".SS ", ".SH "]
        .iter()
        .filter_map(|m| rest.find(&format!("\n{m}")))
        .min()
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The `.TP` entry of a man page part whose tag line mentions `what` (roff spelling).
fn man_entry(part: &str, what: &str) -> Option<String> {
    part.split(".TP\n")
        .skip(1)
        .find(|entry| {
            entry
                .lines()
                .next()
                .is_some_and(|tag| deroff(tag).split([' ', ',']).any(|w| w == what))
        })
        .map(deroff)
}

#[test]
fn man_page_has_the_sections_a_reader_looks_for() {
    let man = read("man/gochat.1");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "OPTIONS",
        "PROTOCOL",
        "CHAT COMMANDS",
        "GUARANTEES",
        "EXAMPLES",
        "EXIT STATUS",
        "SIGNALS",
        "SEE ALSO",
    ] {
        man_part(&man, ".SH", section);
    }
    let version = format!("\"gochat {}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        man.lines()
            .any(|l| l.starts_with(".TH GOCHAT 1 ") && l.contains(&version)),
        "the .TH line must name version {version}"
    );
    let examples = deroff(man_part(&man, ".SH", "EXAMPLES"));
    assert!(examples.contains("< notes.txt"), "an example pipes a file");
    assert!(examples.contains("nc -N "), "an example joins with nc");
    let see_also = deroff(man_part(&man, ".SH", "SEE ALSO"));
    for page in ["nc", "telnet", "socat"] {
        assert!(see_also.contains(page), "SEE ALSO lacks {page}");
    }
}

#[test]
fn man_page_documents_every_option_with_its_default_and_example() {
    let man = read("man/gochat.1");
    let commands = man_part(&man, ".SH", "COMMANDS");
    for (args, part) in [
        (&[][..], "gochat"),
        (&["serve"], "gochat serve"),
        (&["connect"], "gochat connect"),
        (&["completions"], "gochat completions"),
    ] {
        let text = help(args);
        let section = man_part(&man, ".SS", part);
        let entries = help_section(&text, "Options:")
            .into_iter()
            .chain(help_section(&text, "Positional Arguments:"));
        for entry in entries {
            let name = entry.split([' ', ',']).find(|w| w.starts_with("--"));
            let name = name.unwrap_or_else(|| entry.split(' ').next().unwrap_or_default());
            let Some(documented) = man_entry(section, name) else {
                panic!("man/gochat.1 ({part}) does not document {name}: {entry}");
            };
            if let Some(start) = entry.find("(default") {
                let stated = entry[start + "(default".len()..]
                    .trim_start_matches(':')
                    .trim_start();
                let stated = stated.split([',', ';', ')']).next().unwrap_or_default();
                assert!(
                    documented.contains(&format!("Default: {stated}")),
                    "{part} {name}: help says default {stated:?}, the man page: {documented}"
                );
            }
            if let Some(start) = entry.find("e.g. ") {
                let example = entry[start + 5..].split(')').next().unwrap_or_default();
                assert!(
                    documented.contains(&format!("Example: {example}")),
                    "{part} {name}: help's example {example:?}, the man page: {documented}"
                );
            }
        }
        if let [command] = args {
            assert!(
                man_entry(commands, command).is_some(),
                "COMMANDS lacks {command}"
            );
        }
    }
}

#[test]
fn every_long_option_in_help_appears_in_the_man_page() {
    let man = deroff(&read("man/gochat.1"));
    for args in [&[][..], &["serve"], &["connect"], &["completions"]] {
        let text = help(args);
        let options = text
            .split([' ', ',', '[', ']', '\n'])
            .filter(|w| w.starts_with("--") && w.len() > 2);
        for option in options {
            assert!(
                man.contains(option),
                "{option} (gochat {args:?}) is not in the man page"
            );
        }
    }
}

/// The codes README's "Exit status:" list gives, each item's leading numbers: "- 0 success
/// ...", "- 130 or 143: ...".
fn readme_exit_statuses(readme: &str) -> BTreeSet<String> {
    let items = readme
        .lines()
        .skip_while(|l| *l != "Exit status:")
        .skip(1)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("- "));
    items
        .flat_map(|item| {
            item.split([' ', ':'])
                .take_while(|w| *w == "or" || w.parse::<u8>().is_ok())
                .filter(|w| *w != "or")
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn exit_statuses_agree_between_help_man_page_and_readme() {
    let man = read("man/gochat.1");
    let status = man_part(&man, ".SH", "EXIT STATUS");
    // Besides the codes --help lists, a second signal ends `serve` with 128 + its number.
    let mut codes: BTreeSet<String> = ["130", "143"].map(String::from).into();
    for args in [&[][..], &["serve"], &["connect"], &["completions"]] {
        for entry in help_section(&help(args), "Error codes:") {
            codes.insert(entry.split(' ').next().unwrap_or_default().to_string());
        }
    }
    for code in &codes {
        assert!(
            man_entry(status, code).is_some(),
            "EXIT STATUS lacks {code}"
        );
    }
    assert_eq!(
        readme_exit_statuses(&read("README.md")),
        codes,
        "README's \"Exit status:\" list"
    );
    let signals = deroff(man_part(&man, ".SH", "SIGNALS"));
    for needle in ["SIGINT", "SIGTERM", "2s", "130", "143", "Ctrl-C"] {
        assert!(signals.contains(needle), "SIGNALS lacks {needle}");
    }
}

#[test]
#[cfg_attr(not(has_groff), ignore = "needs groff: apt-get install groff-base")]
fn man_page_formats_without_warnings() {
    let (status, out, err) = run_command(
        Command::new(tool("groff"))
            .args(["-man", "-ww", "-z"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/gochat.1")),
    );
    assert!(status.success(), "groff failed: {err}");
    assert!(out.is_empty() && err.is_empty(), "groff warns:\n{err}{out}");
}

#[test]
fn chat_commands_are_documented_in_readme_and_man_page() {
    let man = deroff(man_part(&read("man/gochat.1"), ".SH", "CHAT COMMANDS"));
    let readme = read("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Chat commands"))
        .expect("README has a \"## Chat commands\" section");
    let words = gochat::chat::HELP
        .split([' ', ',', '(', ')', ';'])
        .filter(|w| w.starts_with('/') && w.len() > 1);
    for word in words.chain(["//"]) {
        assert!(
            man.contains(word),
            "the man page's CHAT COMMANDS lacks {word}"
        );
        assert!(
            section.contains(word),
            "README's Chat commands lacks {word}"
        );
    }
}

#[test]
fn readme_says_how_to_install_everything() {
    let readme = read("README.md");
    for needle in [
        "cargo install --path .",
        "~/.local/share/bash-completion/completions/gochat",
        "$fpath",
        "_gochat",
        "~/.config/fish/completions/gochat.fish",
        "~/.local/share/man/man1/gochat.1",
        "man gochat",
        "gochat completions bash",
        "## Performance",
        "cargo bench --bench fanout",
    ] {
        assert!(
            readme.contains(needle),
            "README does not mention {needle:?}"
        );
    }
}

#[test]
fn readme_module_map_names_every_module() {
    let readme = read("README.md");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let entries = std::fs::read_dir(&src).expect("read src/");
    let mut named = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // A module is a file, or a folder of them (named with its slash).
        let module = if entry.path().is_dir() {
            format!("src/{name}/")
        } else if name.ends_with(".rs") && name != "lib.rs" && name != "main.rs" {
            format!("src/{name}")
        } else {
            continue;
        };
        assert!(
            readme.contains(&format!("`{module}`")),
            "README's module map lacks {module}"
        );
        named += 1;
    }
    assert!(named > 5, "only {named} modules found in {}", src.display());
}

#[test]
fn readme_tables_list_every_option_with_its_default() {
    let readme = read("README.md");
    for command in ["serve", "connect"] {
        for entry in help_section(&help(&[command]), "Options:") {
            let Some(option) = entry.split([' ', ',']).find(|w| w.starts_with("--")) else {
                continue;
            };
            if option == "--help" {
                continue;
            }
            let row = readme
                .lines()
                .find(|l| l.starts_with("| `") && l.contains(&format!("`{option}")))
                .unwrap_or_else(|| panic!("README's option tables lack {option}"));
            let stated = entry
                .split_once("(default")
                .map(|(_, rest)| rest.trim_start_matches(':').trim_start())
                .and_then(|rest| rest.split([',', ';', ')']).next())
                .unwrap_or_else(|| panic!("{option} states no default"));
            assert!(
                row.contains(&format!("| {stated} |")),
                "README says {row:?}, help says {option} defaults to {stated:?}"
            );
        }
    }
}
