//! `cargo bench --bench fanout`: the project's proof of speed and memory.
//!
//! Starts `gochat serve 127.0.0.1:0` (a fresh process per scenario per run), joins members
//! over loopback, drives a scenario and prints one table of medians. Options (after `--`):
//!
//! ```text
//! --runs N             runs per scenario (default 3; the table shows medians)
//! --scenario NAME      fanout-100, fanout-1000, steady-100k, idle-10k, quiet-10k, rush-10k
//!                      (repeatable, or a comma list)
//! --quick              a short smoke version: 1 run, fewer lines, fewer members for memory
//! --no-pin             do not pin the server to core 0 and the generator to core 1
//! --addr HOST:PORT     measure an already running line-based chat server instead
//! --pid PID            with --addr: that server's pid, for RSS and CPU figures
//! --compare-seed       also build tests/seed/server.go (needs go) and measure it the same way
//! --cluster            also measure one room on 2 gochat servers joined by a redis-server of
//!                      the bench's own (members and senders split between them; servers and
//!                      Redis share the server core; CPU is theirs together)
//! --server-cmd "CMD"   also measure another server: CMD ARGS, `{addr}` replaced by 127.0.0.1:0
//!                      (appended if absent); it must print `listening on ADDR` to stderr
//! ```
//!
//! The scenarios are in [`scenario`]; every sent line is 63 bytes of text and `\n`
//! ([`wire`]). For `idle-10k`, `quiet-10k` and `rush-10k` the figure is the server's RSS per
//! member, once the room is quiet: see [`run`] for what it counts. With `--addr` the server
//! is not fresh, so this only counts what it did not already hold from an earlier run.
//!
//! Every member reads its greeting before anything is sent, then member 0 sends a sync line
//! (again, until every member that reads has one: the seed adds a newcomer to the room only
//! after greeting it), so all arrivals have settled before the clock starts. Memory is read
//! once the server has gone quiet after that (and after the traffic, if any).
//!
//! The generator ([`generator`]) is one thread, pinned to its own core: a level-triggered
//! epoll loop over every member socket, one shared 256 KiB read buffer, lines split with
//! memchr, markers found with memchr, their fields parsed eight digits at a time, no
//! allocation per line. Each sent line carries a marker `~gcb RUN SENDER SEQ SEND_NS~`,
//! stamped just before the write that hands it to the kernel; receivers find the marker
//! anywhere in a received line, so the server's prefix does not matter. Latency is the time
//! a member's `read` returned the line minus its stamp (one clock: senders and receivers
//! are this process).
//!
//! Order: every member must see the same sequence of (sender, seq) as the first member to
//! get each position, and each sender's seq strictly increasing. Lost: expected deliveries
//! minus valid ones, after waiting until nothing has moved for 10 s. CPU: user + system of
//! the server (all its threads, /proc) and of this process (its scheduler run time) over
//! the measured window. When the generator used as much CPU as the server, the figure is
//! marked `*`: it measures the generator as much as the server. Notes after each run say
//! when members were dropped, when the server complained on stderr, and when other
//! processes ran on the two cores (a shared machine makes the figures noisy).
//!
//! Exit status: 0, or 1 if a run failed, lost lines or saw a different order; 2 for bad
//! usage.
//!
//! # Layout
//!
//! - [`args`]: the command line.
//! - [`scenario`]: what each scenario does.
//! - [`launch`]: the servers under test and how each is started and tied to the bench.
//! - [`generator`]: the members, the senders and the epoll loop; [`wire`] their lines.
//! - [`run`]: one run of one scenario, and what it measured.
//! - [`cpu`], [`procfs`], [`sys`]: CPU windows, /proc readings, system calls (`rustix`).
//! - [`report`]: the per-run lines, the tables and the footer.

#![forbid(unsafe_code)]

mod args;
mod cpu;
mod generator;
mod launch;
mod procfs;
mod report;
mod run;
mod scenario;
mod sys;
mod wire;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use args::{Args, ArgsError, USAGE};
use cpu::Cores;
use launch::Target;
use report::Row;
use run::RunError;
use scenario::Scenario;

/// Once the runs of one scenario on one server have taken this long, the remaining runs
/// are skipped (the table says so): one run of the seed's idle-10k already takes longer.
const SCENARIO_BUDGET: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    let args = match args::parse_args() {
        Ok(args) => args,
        Err(ArgsError::Help) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Bad(e)) => {
            eprintln!("fanout: {e}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything asked for; `Ok(false)` if a run failed, lost lines or saw another order.
fn real_main(args: &Args) -> Result<bool, String> {
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 });
    let chosen = scenario::choose(&args.scenarios, args.quick)?;
    let machine = Machine::prepare(args.pin);
    let placement = machine.placement(args.addr.is_some());
    print_header(args, &machine, &placement);

    let targets = launch::targets(args)?;
    let mut tag = u64::from(std::process::id()) * 7 % 10_000;
    let mut tables = Vec::new();
    let mut all_ok = true;
    for target in &targets {
        let (rows, ok) = run_target(target, &chosen, runs, &machine, &mut tag);
        all_ok &= ok;
        let title = format!(
            "{} fanout benchmark  ({placement}, {runs} run{}, medians)",
            target.label,
            if runs == 1 { "" } else { "s" }
        );
        tables.push((title, rows));
    }
    println!();
    for (title, rows) in &tables {
        report::print_table(title, rows);
        println!();
    }
    let gen_bound = tables
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .any(|row| row.runs.iter().any(|r| r.gen_bound));
    report::print_footer(gen_bound);
    if !all_ok {
        eprintln!(
            "fanout: exiting with status 1: a run failed, lost lines or saw a different order"
        );
    }
    Ok(all_ok)
}

/// The machine as the bench found and arranged it: the open file limit raised, the
/// generator pinned to its core.
struct Machine {
    nofile: u64,
    online: usize,
    allowed: Vec<usize>,
    /// The core spawned servers are pinned to.
    server_core: Option<usize>,
    /// The core the generator runs on, if pinning it worked.
    generator_core: Option<usize>,
}

impl Machine {
    /// Raises the open file limit and, if `pin` and two cores are usable, pins the
    /// generator to the second of them (the first is the server's).
    fn prepare(pin: bool) -> Machine {
        let nofile = sys::raise_open_file_limit();
        let allowed = sys::allowed_cores();
        let (server_core, gen_core) = if pin && allowed.len() >= 2 {
            (Some(allowed[0]), Some(allowed[1]))
        } else {
            (None, None)
        };
        let mut generator_core = gen_core;
        if let Some(core) = gen_core {
            if let Err(e) = sys::pin_self(core) {
                eprintln!("fanout: cannot pin the generator to core {core}: {e}; running unpinned");
                generator_core = None;
            }
        }
        Machine {
            nofile,
            online: procfs::online_cores(),
            allowed,
            server_core,
            generator_core,
        }
    }

    /// Where things run, in words, for the header and the table titles.
    fn placement(&self, external: bool) -> String {
        match (self.server_core, self.generator_core) {
            (Some(s), Some(g)) if !external => format!("server on core {s}, generator on core {g}"),
            (Some(s), Some(g)) => format!(
                "the server at --addr is not pinned by the bench; spawned servers on core {s}; \
                 generator on core {g}"
            ),
            (_, Some(g)) => format!("server not pinned, generator on core {g}"),
            _ => "not pinned".to_string(),
        }
    }

    /// Where `target`'s server and the generator run.
    fn cores(&self, target: &Target) -> Cores {
        Cores {
            server: self.server_core.filter(|_| target.is_spawned()),
            generator: self.generator_core,
        }
    }
}

/// The lines before the runs: the command, the machine, the pinning, the load.
fn print_header(args: &Args, machine: &Machine, placement: &str) {
    let command: Vec<String> = std::env::args().collect();
    println!("command: {}", command.join(" "));
    println!(
        "machine: {} cores online, {} usable by the bench; open file limit {}",
        machine.online,
        machine.allowed.len(),
        machine.nofile
    );
    println!("pinning: {placement}");
    if let Some(load) = procfs::loadavg() {
        println!("load average before the bench: {load}");
    }
    if args.quick {
        println!(
            "mode: --quick (smoke test: fewer lines, fewer idle members; not for comparisons)"
        );
    }
    println!();
}

/// Every scenario on one server: its rows, and whether all its runs were sound.
fn run_target(
    target: &Target,
    chosen: &[Scenario],
    runs: usize,
    machine: &Machine,
    tag: &mut u64,
) -> (Vec<Row>, bool) {
    let mut rows = Vec::new();
    let mut all_ok = true;
    // Once the server fails to start, the next runs will not do better.
    let mut start_failure: Option<String> = None;
    for sc in chosen {
        let mut row = Row::new(sc, runs);
        let scenario_started = Instant::now();
        for run in 1..=runs {
            if run > 1 && scenario_started.elapsed() > SCENARIO_BUDGET {
                print_budget_cut(target, sc, run, runs, scenario_started);
                row.cut = Some(run - 1);
                break;
            }
            if let Some(e) = &start_failure {
                row.failures.push(e.clone());
                continue;
            }
            *tag = (*tag + 1) % 10_000;
            let result = run::run_once(target, sc, machine.cores(target), *tag);
            all_ok &= record_run(target, sc, run, runs, result, &mut row, &mut start_failure);
        }
        rows.push(row);
    }
    (rows, all_ok)
}

fn print_budget_cut(target: &Target, sc: &Scenario, run: usize, runs: usize, started: Instant) {
    let taken = started.elapsed().as_secs_f64() / 60.0;
    println!(
        "{} {}: skipping runs {run}-{runs}: the runs so far took {taken:.0} min \
         (budget {} min per scenario)",
        target.label,
        sc.name,
        SCENARIO_BUDGET.as_secs() / 60
    );
}

/// Prints one run's result and adds it to its row; false if the run failed, lost lines or
/// saw another order.
fn record_run(
    target: &Target,
    sc: &Scenario,
    run: usize,
    runs: usize,
    result: Result<run::RunResult, RunError>,
    row: &mut Row,
    start_failure: &mut Option<String>,
) -> bool {
    match result {
        Ok(r) => {
            println!(
                "{} {} run {run}/{runs}: {}",
                target.label,
                sc.name,
                report::describe_run(&r)
            );
            let sound = !(r.lost.is_some_and(|l| l > 0) || r.order_ok == Some(false));
            row.runs.push(r);
            sound
        }
        Err(RunError::Start(e)) => {
            eprintln!("fanout: {}: the server failed to start: {e}", target.label);
            eprintln!("fanout: skipping the remaining runs of {}", target.label);
            row.failures.push(e.clone());
            *start_failure = Some(e);
            false
        }
        Err(RunError::Run(e)) => {
            println!("{} {} run {run}/{runs}: FAILED: {e}", target.label, sc.name);
            row.failures.push(e);
            false
        }
    }
}
