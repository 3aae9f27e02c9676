//! Answers the commands that need the whole room, not just this server: `/nick` (is the
//! name free on every server?) and `/who` (everyone, on every server). When the link is
//! down they are refused at once, with a line saying so.

use std::sync::Arc;

use async_channel::Receiver;
use redis::RedisResult;

use super::link::Conn;
use super::names::{self, Taken};
use super::node::Node;
use super::roster;
use crate::relay::{Event, Out};

/// What a member is told when the room cannot be asked.
const LINK_DOWN: &str = "the room's link is down; try again soon";

/// Answers `requests` until the room is gone.
pub(crate) async fn answer(node: Arc<Node>, requests: Receiver<Out>) {
    while let Ok(request) = requests.recv().await {
        let event = match node.link.current() {
            None => refuse(request),
            Some(mut conn) => match answer_one(&mut conn, &node, &request).await {
                Ok(event) => event,
                Err(e) => {
                    node.link.failed(conn.epoch, &e);
                    refuse(request)
                }
            },
        };
        if let Some(event) = event {
            let _ = node.events.try_send(event);
        }
    }
}

/// Answers one command.
async fn answer_one(conn: &mut Conn, node: &Node, request: &Out) -> RedisResult<Option<Event>> {
    Ok(match request {
        Out::Nick {
            member,
            old,
            wanted,
        } => {
            let taken = names::take(&mut conn.con, node, *member, old.as_deref(), wanted).await?;
            let result = match taken {
                Taken::Granted => {
                    if let Some(m) = node.members().get_mut(member) {
                        m.name = Some(wanted.clone());
                    }
                    Ok(())
                }
                Taken::Held => Err(format!("name {wanted:?} is taken")),
                Taken::NotInRoom => Err(LINK_DOWN.to_string()),
            };
            Some(Event::Nick {
                member: *member,
                wanted: wanted.clone(),
                result,
            })
        }
        Out::Who { member } => Some(Event::Who {
            member: *member,
            result: Ok(roster::everyone(&mut conn.con, node).await?),
        }),
        _ => None,
    })
}

/// The answer to a command when Redis cannot be asked.
fn refuse(request: Out) -> Option<Event> {
    match request {
        Out::Nick { member, wanted, .. } => Some(Event::Nick {
            member,
            wanted,
            result: Err(LINK_DOWN.to_string()),
        }),
        Out::Who { member } => Some(Event::Who {
            member,
            result: Err(LINK_DOWN.to_string()),
        }),
        _ => None,
    }
}
