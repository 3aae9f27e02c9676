//! The shipped documents tell the truth about the binary.

use std::path::Path;

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
}
