//! What the bench prints: one line per run as it finishes, then one table per server of the
//! medians over its runs, and the footer that says what each column counts.

use std::fmt::Write as _;

use crate::run::RunResult;
use crate::scenario::Scenario;

/// One table row: a scenario's runs on one server.
pub struct Row {
    pub sc: Scenario,
    pub runs: Vec<RunResult>,
    pub failures: Vec<String>,
    /// Runs asked for.
    pub planned: usize,
    /// Runs done, if the time budget cut the rest.
    pub cut: Option<usize>,
}

impl Row {
    pub fn new(sc: &Scenario, planned: usize) -> Row {
        Row {
            sc: sc.clone(),
            runs: Vec::new(),
            failures: Vec::new(),
            planned,
            cut: None,
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn med_of(runs: &[RunResult], f: impl Fn(&RunResult) -> Option<f64>) -> Option<f64> {
    median(runs.iter().filter_map(f).collect())
}

fn show(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn mib(bytes: Option<f64>) -> String {
    bytes.map_or_else(
        || "-".into(),
        |b| format!("{:.1} MiB", b / (1024.0 * 1024.0)),
    )
}

/// Prints one server's table.
pub fn print_table(title: &str, rows: &[Row]) {
    println!("{title}");
    println!(
        "{:<12} {:>7} {:>7} {:>6}  {:>31} {:>7} {:>8} {:>8} {:>8} {:>7} {:>5} {:>10} {:>15} {:>12} {:>9} {:>8}",
        "scenario",
        "members",
        "senders",
        "lines",
        "deliveries/s (min-max)",
        "MB/s",
        "p50 us",
        "p99 us",
        "p999 us",
        "lost",
        "order",
        "peak RSS",
        "RSS/idle member",
        "server CPU s",
        "gen CPU s",
        "window s"
    );
    for row in rows {
        println!("{}", row_line(row));
    }
}

/// A row's line: its medians, or why it has none.
fn row_line(row: &Row) -> String {
    let (sc, runs) = (&row.sc, &row.runs);
    let (senders, lines) = if !sc.has_traffic() {
        ("-".to_string(), "-".to_string())
    } else {
        (sc.senders.to_string(), sc.lines().to_string())
    };
    if runs.is_empty() {
        return format!(
            "{:<12} {:>7} {:>7} {:>6}  FAILED: {}",
            sc.name,
            sc.members,
            senders,
            lines,
            row.failures.first().map_or("", String::as_str)
        );
    }
    let rss_idle =
        med_of(runs, |r| r.rss_per_idle).map_or_else(|| "-".into(), |b| format!("{b:.0} B"));
    let mut cells = format!(
        "{:<12} {:>7} {:>7} {:>6}  {:>31} {:>7} {:>8} {:>8} {:>8} {:>7} {:>5} {:>10} {:>15} {:>12} {:>9} {:>8}",
        sc.name,
        sc.members,
        senders,
        lines,
        deliveries_cell(runs),
        show(med_of(runs, |r| r.mb_per_s), 1),
        show(med_of(runs, |r| r.p50_us), 0),
        show(med_of(runs, |r| r.p99_us), 0),
        show(med_of(runs, |r| r.p999_us), 0),
        show(med_of(runs, |r| r.lost.map(|l| l as f64)), 0),
        order_cell(sc, runs),
        mib(med_of(runs, |r| r.peak_rss.map(|b| b as f64))),
        rss_idle,
        show(med_of(runs, |r| r.server_cpu), 3),
        show(med_of(runs, |r| Some(r.gen_cpu)), 3),
        show(med_of(runs, |r| Some(r.window_s)), 3),
    );
    if let Some(done) = row.cut {
        let _ = write!(
            cells,
            "  (only {done} of {} runs: time budget)",
            row.planned
        );
    }
    if !row.failures.is_empty() {
        let _ = write!(cells, "  ({} runs FAILED)", row.failures.len());
    }
    cells
}

/// `median (min-max)`, marked `*` when the generator bounded a run.
fn deliveries_cell(runs: &[RunResult]) -> String {
    let rates: Vec<f64> = runs.iter().filter_map(|r| r.deliveries_per_s).collect();
    let Some(m) = median(rates.clone()) else {
        return "-".into();
    };
    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mark = if runs.iter().any(|r| r.gen_bound) {
        "*"
    } else {
        " "
    };
    format!("{m:.0} ({lo:.0}-{hi:.0}){mark}")
}

fn order_cell(sc: &Scenario, runs: &[RunResult]) -> &'static str {
    if !sc.has_traffic() {
        "-"
    } else if runs.iter().all(|r| r.order_ok == Some(true)) {
        "yes"
    } else {
        "NO"
    }
}

/// One run, as printed when it finishes, with its notes.
pub fn describe_run(r: &RunResult) -> String {
    let mut s = String::new();
    if let Some(d) = r.deliveries_per_s {
        let _ = write!(
            s,
            "{d:.0} deliveries/s, {} MB/s, p50/p99/p999 {}/{}/{} us, lost {}, order {}, ",
            show(r.mb_per_s, 1),
            show(r.p50_us, 0),
            show(r.p99_us, 0),
            show(r.p999_us, 0),
            r.lost.map_or_else(|| "-".into(), |l| l.to_string()),
            match r.order_ok {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    } else if let Some(lost) = r.lost {
        let _ = write!(s, "no deliveries measured, lost {lost}, ");
    }
    if let Some(b) = r.rss_per_idle {
        let _ = write!(s, "RSS/idle member {b:.0} B, ");
    }
    if let Some(b) = r.tcp_buffers_per_member {
        let _ = write!(s, "TCP buffers (machine, both ends) {b:+.0} B/member, ");
    }
    let _ = write!(
        s,
        "peak RSS {}, server CPU {} s, gen CPU {:.3} s, window {:.3} s, join+sync {:.2} s",
        mib(r.peak_rss.map(|b| b as f64)),
        show(r.server_cpu, 3),
        r.gen_cpu,
        r.window_s,
        r.join_s
    );
    for note in &r.notes {
        let _ = write!(s, "\n      note: {note}");
    }
    s
}

/// What the columns count, after the tables; the `*` mark explained if any row has it.
pub fn print_footer(gen_bound: bool) {
    println!(
        "deliveries/s and MB/s: valid marked lines (and all bytes) received by all members, \
over the time from the first send to the last delivery (\"window s\"); latency: read time \
minus send stamp, every delivery; CPU: user+system during that window (idle: during joining)."
    );
    println!(
        "RSS/idle member: the server's resident memory once the room is quiet again, minus what \
it was before the first member connected, over the members in the room: their state and what \
the allocator keeps, not the kernel's socket memory (idle-10k and rush-10k: members read \
nothing after their greeting; quiet-10k: members read everything, after a little traffic)."
    );
    if gen_bound {
        println!(
            "*: in at least one run the generator used as much CPU as the server or more, so \
that figure is bounded by the generator: the server can do at least this much."
        );
    }
}
