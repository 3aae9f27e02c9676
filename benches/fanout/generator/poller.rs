//! The generator's event source: one level-triggered epoll set over every member's
//! connection, plus a timerfd that paces the steady scenario. Through `rustix`'s safe
//! wrappers (the `polling` crate's `Poller::add` is `unsafe`, and it has no timerfd).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::io::Errno;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};

/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// The token of the timer; members' tokens are their index.
const TIMER_TOKEN: u64 = u64::MAX;

/// What one event says.
#[derive(Clone, Copy)]
pub enum Ready {
    /// The steady scenario's timer went off.
    Timer,
    /// Member `member`'s connection: readable (or closed, or failed), writable, or both;
    /// `hangup` if the server has closed it (or it failed).
    Member {
        member: usize,
        readable: bool,
        writable: bool,
        hangup: bool,
    },
}

pub struct Poller {
    epoll: OwnedFd,
    timer: OwnedFd,
    events: Vec<Event>,
}

impl Poller {
    pub fn new() -> Result<Poller, String> {
        let epoll =
            epoll::create(CreateFlags::CLOEXEC).map_err(|e| format!("epoll_create1: {e}"))?;
        let timer = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .map_err(|e| format!("timerfd_create: {e}"))?;
        epoll::add(
            &epoll,
            &timer,
            EventData::new_u64(TIMER_TOKEN),
            EventFlags::IN,
        )
        .map_err(|e| format!("epoll_ctl(timer): {e}"))?;
        let none = Event {
            flags: EventFlags::empty(),
            data: EventData::new_u64(0),
        };
        Ok(Poller {
            epoll,
            timer,
            events: vec![none; EVENTS_PER_WAIT],
        })
    }

    /// Watches member `member`'s connection for reading.
    pub fn add(&self, fd: impl AsFd, member: usize) -> io::Result<()> {
        let data = EventData::new_u64(member as u64);
        epoll::add(&self.epoll, fd, data, EventFlags::IN)?;
        Ok(())
    }

    /// Watches member `member`'s connection for reading, and for writing if `writable`.
    pub fn watch_writes(&self, fd: impl AsFd, member: usize, writable: bool) -> io::Result<()> {
        let mut flags = EventFlags::IN;
        if writable {
            flags |= EventFlags::OUT;
        }
        epoll::modify(&self.epoll, fd, EventData::new_u64(member as u64), flags)?;
        Ok(())
    }

    /// Watches member `member`'s connection only for the server closing it: for a member
    /// that no longer reads, whose unread bytes would make it readable for ever.
    pub fn watch_hangup(&self, fd: impl AsFd, member: usize) -> io::Result<()> {
        let data = EventData::new_u64(member as u64);
        epoll::modify(&self.epoll, fd, data, EventFlags::RDHUP)?;
        Ok(())
    }

    /// Stops watching a connection.
    pub fn remove(&self, fd: impl AsFd) -> io::Result<()> {
        epoll::delete(&self.epoll, fd)?;
        Ok(())
    }

    /// Waits up to `timeout` for events; returns how many [`Poller::event`] can tell (0 if
    /// interrupted by a signal).
    pub fn wait(&mut self, timeout: Duration) -> Result<usize, String> {
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        match epoll::wait(&self.epoll, &mut self.events, Some(&timeout)) {
            Ok(n) => Ok(n),
            Err(Errno::INTR) => Ok(0),
            Err(e) => Err(format!("epoll_wait: {e}")),
        }
    }

    /// Event `k` of the last [`Poller::wait`].
    pub fn event(&self, k: usize) -> Ready {
        let Event { flags, data } = self.events[k];
        if data.u64() == TIMER_TOKEN {
            return Ready::Timer;
        }
        Ready::Member {
            member: data.u64() as usize,
            readable: flags.intersects(EventFlags::IN | EventFlags::ERR | EventFlags::HUP),
            writable: flags.contains(EventFlags::OUT),
            hangup: flags.intersects(EventFlags::RDHUP | EventFlags::ERR | EventFlags::HUP),
        }
    }

    /// Makes the timer go off once, `after` from now.
    pub fn arm_timer(&self, after: Duration) {
        // A zero time would disarm it.
        let after = after.max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs() as i64,
                tv_nsec: i64::from(after.subsec_nanos()),
            },
        };
        let _ = timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec);
    }

    /// Takes the timer's expiration count, so it is no longer readable.
    pub fn drain_timer(&self) {
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
    }
}
