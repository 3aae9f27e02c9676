//! The bench's command line: what a user may ask for after `cargo bench --bench fanout --`,
//! parsed by hand (a bench with `harness = false` gets its arguments raw, `--bench` included)
//! into [`Args`], with the usage text printed on any mistake.

/// What the user asked for.
pub struct Args {
    /// `--runs N`: runs per scenario (default 3, or 1 with `--quick`).
    pub runs: Option<usize>,
    /// `--scenario NAME`: the scenarios to run, in order (empty: all of them).
    pub scenarios: Vec<String>,
    /// `--quick`: a short smoke run.
    pub quick: bool,
    /// Not `--no-pin`: pin the server and the generator to a core each.
    pub pin: bool,
    /// `--addr HOST:PORT`: measure a server that is already running.
    pub addr: Option<String>,
    /// `--pid PID`: that server's process, for its memory and CPU.
    pub pid: Option<u32>,
    /// `--compare-seed`: also measure the Go server gochat descends from.
    pub compare_seed: bool,
    /// `--cluster`: also measure one room on two gochat servers joined by Redis.
    pub cluster: bool,
    /// `--server-cmd "CMD ARGS"`: also measure another server, started by the bench.
    pub server_cmd: Option<String>,
}

/// Printed with every usage mistake, and for `--help`.
pub const USAGE: &str = "usage: cargo bench --bench fanout -- [--runs N] [--scenario NAME[,NAME]]... \
[--quick] [--no-pin] [--addr HOST:PORT [--pid PID]] [--compare-seed] [--cluster] \
[--server-cmd \"CMD ARGS\"]\n\
scenarios: fanout-100, fanout-1000, steady-100k, idle-10k, quiet-10k, rush-10k";

/// What went wrong on the command line.
pub enum ArgsError {
    /// `--help`: print the usage and succeed.
    Help,
    /// A mistake: say it, print the usage, exit 2.
    Bad(String),
}

impl From<String> for ArgsError {
    fn from(e: String) -> Self {
        ArgsError::Bad(e)
    }
}

/// Parses this process's arguments.
pub fn parse_args() -> Result<Args, ArgsError> {
    parse(std::env::args().skip(1))
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, ArgsError> {
    let mut args = Args {
        runs: None,
        scenarios: Vec::new(),
        quick: false,
        pin: true,
        addr: None,
        pid: None,
        compare_seed: false,
        cluster: false,
        server_cmd: None,
    };
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{key} needs a value"))
        };
        match key.as_str() {
            "--runs" => args.runs = Some(parse_runs(&value()?)?),
            "--scenario" => args.scenarios.extend(split_names(&value()?)),
            "--quick" => args.quick = true,
            "--no-pin" => args.pin = false,
            "--addr" => args.addr = Some(value()?),
            "--cluster" => args.cluster = true,
            "--pid" => args.pid = Some(parse_pid(&value()?)?),
            "--compare-seed" => args.compare_seed = true,
            "--server-cmd" => args.server_cmd = Some(value()?),
            // cargo bench passes --bench to harness = false benches.
            "--bench" => {}
            "--help" | "-h" => return Err(ArgsError::Help),
            _ => return Err(format!("unknown argument {arg:?}").into()),
        }
    }
    if args.pid.is_some() && args.addr.is_none() {
        return Err(ArgsError::Bad("--pid only makes sense with --addr".into()));
    }
    Ok(args)
}

fn parse_runs(v: &str) -> Result<usize, String> {
    let n: usize = v
        .parse()
        .map_err(|_| format!("--runs: not a number: {v:?}"))?;
    if n == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(n)
}

fn parse_pid(v: &str) -> Result<u32, String> {
    v.parse().map_err(|_| format!("--pid: not a pid: {v:?}"))
}

/// `a,b, c` as `["a", "b", "c"]`.
fn split_names(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}
