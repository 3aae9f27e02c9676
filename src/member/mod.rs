//! One member's connection: its reader and its writer, over any [`Transport`].
//!
//! Each member gets two tasks:
//!
//! - The [reader](reader) takes what the member sends, frames and sanitizes it with the
//!   [codec](crate::codec), and hands the lines to the room. When the room's queue is full
//!   it waits, and stops reading meanwhile: the transport (TCP, underneath) then slows the
//!   sender down. A flood is throttled, never dropped, and never buffered here.
//! - The [writer](writer) sends the member its [`Outbox`]: everything the room has appended
//!   since the member joined, straight from the shared feed, as many lines per write as are
//!   waiting, and the lines meant for it alone. It removes a member that falls further
//!   behind than the lag limit.
//!
//! Both work through the [`transport`] seam, so the room and everything it promises are the
//! same whatever carries a member's bytes; [`tcp`] is the plain transport. What the tasks
//! share with the room is its [`Link`]; they depend on [`crate::room`], never the other way
//! round.

pub mod reader;
pub mod tcp;
pub mod transport;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use smol::Executor;

pub use transport::{Entrance, Transport};

use crate::outbox::Outbox;
use crate::room::{Link, Msg, Room, Slot};

/// A member's connection, shared by its reader and writer: the transport, and the place it
/// holds in the room (given back when both tasks are done with it).
#[derive(Debug)]
pub struct Conn<T> {
    /// What carries the member's bytes.
    pub transport: T,
    /// Frees a place in the room when the connection closes.
    slot: Slot,
}

impl<T> Conn<T> {
    /// The room this connection is in (its slot remembers it).
    pub fn room(&self) -> &Arc<Room> {
        self.slot.room()
    }
}

/// Lets one member in: joins the room, then starts its writer and its reader, each a task
/// of its own that runs until the member has left.
pub async fn run<T: Transport>(
    transport: T,
    peer: SocketAddr,
    slot: Slot,
    ex: Arc<Executor<'static>>,
) {
    let conn = Arc::new(Conn { transport, slot });
    let room = Arc::clone(conn.room());
    let link = Arc::new(Link::new(room.next_id(), crate::addr::peer_name(peer)));
    let Some(outbox) = join(&room, &link).await else {
        return; // the room is closing
    };
    ex.spawn(writer::Writer::new(
        Arc::clone(&conn),
        Arc::clone(&link),
        outbox,
    ))
    .detach();
    ex.spawn(reader::Reader::new(conn, link)).detach();
}

/// Asks the room to let the member in, and waits for the outbox it starts from (`None`
/// if the room is closing). A function of its own so that the reply channel is freed as
/// soon as it has answered, not kept for the member's whole stay.
async fn join(room: &Room, link: &Arc<Link>) -> Option<Outbox> {
    let (reply, outbox) = async_channel::bounded(1);
    let joining = Msg::Join {
        link: Arc::clone(link),
        reply,
    };
    if !room.send(joining).await {
        return None;
    }
    outbox.recv().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle member costs its two tasks plus what they point to; keep the tasks small
    /// (the benchmark's idle scenario measures the whole cost).
    #[test]
    fn a_members_tasks_are_small() {
        let reader = std::mem::size_of::<reader::Reader<tcp::Tcp>>();
        let writer = std::mem::size_of::<writer::Writer<tcp::Tcp>>();
        eprintln!("reader task: {reader} bytes, writer task: {writer} bytes");
        assert!(reader <= 128, "the reader grew to {reader} bytes");
        assert!(writer <= 128, "the writer grew to {writer} bytes");
        let link = std::mem::size_of::<Link>();
        eprintln!("link: {link} bytes");
        assert!(link <= 256, "the link grew to {link} bytes");
        let conn = std::mem::size_of::<Conn<tcp::Tcp>>();
        eprintln!("connection: {conn} bytes");
        assert!(conn <= 64, "the connection grew to {conn} bytes");
    }
}
