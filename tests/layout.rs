//! The source tree keeps the shape a newcomer is promised: every module says what it owns,
//! README's module map and `src/lib.rs`'s Layout name every module, and no two modules
//! depend on each other (the `crate::` paths in `src/` form no cycle, between top-level
//! modules, or between the files of one folder).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read a source directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The module path of a source file: `src/room/mod.rs` is `room`, `src/room/link.rs` is
/// `room::link`; `lib.rs` and `main.rs` are the root, `""`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).expect("a file under src/");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// The source without comments (so a doc link to another module is not a dependency).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `code` names after `crate::`, as far as they go (`crate::room::link::X`
/// gives `room`, `room::link`, and `room::link::X`; the caller keeps the modules).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if rest.starts_with('{') {
            // `use crate::{a, b::c}`: the first word of each item.
            let inner = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in inner.split(',') {
                let path: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|w| w.trim().to_string())
                    .take_while(|w| is_ident(w))
                    .collect();
                if !path.is_empty() {
                    paths.push(path);
                }
            }
            continue;
        }
        let mut whole = Vec::new();
        let mut remaining = rest;
        loop {
            let word: String = remaining
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if word.is_empty() {
                break;
            }
            remaining = &remaining[word.len()..];
            whole.push(word);
            match remaining.strip_prefix("::") {
                Some(more) => remaining = more,
                None => break,
            }
        }
        if !whole.is_empty() {
            paths.push(whole);
        }
    }
    paths
}

fn is_ident(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Every module (by path) and the modules its code names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(&src());
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut deps = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let text = fs::read_to_string(file).expect("read a source file");
        let mut named = BTreeSet::new();
        for path in crate_paths(&code_of(&text)) {
            // The longest prefix of the path that is a module of ours.
            let longest = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|candidate| modules.contains(candidate));
            if let Some(target) = longest {
                if target != module {
                    named.insert(target);
                }
            }
        }
        deps.insert(module, named);
    }
    deps
}

/// A cycle in `graph`, if it has one (as the list of nodes around it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut done, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map_or("", |(p, _)| p)
}

#[test]
fn no_two_top_level_modules_depend_on_each_other() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, named) in dependencies() {
        if module.is_empty() {
            continue; // lib.rs declares them all; main.rs is the binary
        }
        let entry = graph.entry(top(&module).to_string()).or_default();
        for target in named {
            if top(&target) != top(&module) {
                entry.insert(top(&target).to_string());
            }
        }
    }
    assert_eq!(
        find_cycle(&graph),
        None,
        "modules that depend on each other"
    );
}

#[test]
fn no_two_files_of_one_folder_depend_on_each_other() {
    // A folder's mod.rs declares its files and may name them; between the files themselves
    // (siblings), dependencies go one way.
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, named) in dependencies() {
        let entry = graph.entry(module.clone()).or_default();
        for target in named {
            let siblings = !module.is_empty() && parent(&target) == parent(&module);
            if siblings {
                entry.insert(target);
            }
        }
    }
    assert_eq!(find_cycle(&graph), None, "files that depend on each other");
}

#[test]
fn every_source_file_says_what_it_owns() {
    for file in rust_files(&src()) {
        let text = fs::read_to_string(&file).expect("read a source file");
        assert!(
            text.trim_start().starts_with("//!"),
            "{} does not open with a //! doc saying what it owns",
            file.display()
        );
    }
}

#[test]
fn the_layout_in_lib_rs_and_readme_names_every_module() {
    let lib = fs::read_to_string(src().join("lib.rs")).expect("read src/lib.rs");
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    // Unit tests in a file of their own (`room/tests.rs`) are not a module to look for.
    let modules = dependencies();
    let modules = modules
        .keys()
        .filter(|m| !m.is_empty() && !m.ends_with("tests"));
    for module in modules {
        if !module.contains("::") {
            assert!(
                lib.contains(&format!("[`{module}`]")) || lib.contains(&format!("`{module}`")),
                "src/lib.rs's Layout lacks {module}"
            );
        }
        let file = module.replace("::", "/");
        let named = readme.contains(&format!("`src/{file}.rs`"))
            || readme.contains(&format!("`src/{file}/`"))
            || readme.contains(&format!("`{}.rs`", file.rsplit('/').next().unwrap_or("")));
        assert!(named, "README's module map lacks src/{file}");
    }
}

#[test]
fn the_checks_above_see_crate_paths() {
    let code = "use crate::room::{Link, Msg};\nuse crate::{chat, codec::lines};\nlet x = crate::units::format_duration(d);";
    let paths: Vec<String> = crate_paths(code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        paths,
        ["room", "chat", "codec::lines", "units::format_duration"]
    );
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
