//! SIGINT and SIGTERM: the first shuts the room down cleanly, a second ends the process at
//! once (status 130 for SIGINT, 143 for SIGTERM, as shells report a process killed by it).

use async_signal::{Signal, Signals};
use futures_lite::StreamExt;
use smol::Executor;

use crate::error::Error;

/// Starts watching for SIGINT and SIGTERM on `ex`. The future it returns resolves at the
/// first (after saying so on stderr); a second signal exits the process.
pub fn watch(
    ex: &Executor<'static>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, Error> {
    let mut signals = Signals::new([Signal::Int, Signal::Term])
        .map_err(|e| Error::io("cannot handle signals", e))?;
    let (first, stop) = async_channel::bounded::<()>(1);
    ex.spawn(async move {
        let signal = signals.next().await;
        eprintln!(
            "gochat: {}, shutting down",
            match signal {
                Some(Ok(Signal::Int)) => "interrupted",
                _ => "terminated",
            }
        );
        drop(first);
        let signal = signals.next().await;
        eprintln!("gochat: second signal, exiting now");
        std::process::exit(match signal {
            Some(Ok(Signal::Int)) => 130,
            _ => 143,
        });
    })
    .detach();
    Ok(async move {
        let _ = stop.recv().await;
    })
}
