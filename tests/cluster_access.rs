//! How a cluster reaches its Redis: with a password, as an ACL user, over TLS, and through
//! Redis Sentinel, following a failover. Each story runs two gochat servers on a Redis (or
//! a Sentinel deployment) of its own, started on loopback ports it picks.
//!
//! A test that finds no redis-server (or redis-sentinel) says so loudly and skips, unless
//! `GOCHAT_REQUIRE_REDIS=1` (set by `.ci/run`), where it fails with the install command.

#![cfg(feature = "redis")]

mod common;
#[path = "common/redis.rs"]
mod redis;

use common::{Member, PATIENCE, Server, gochat, run};
use redis::{Config, Redis, Sentinels};

/// A gochat server in room `room` on the Redis at `url`, with `env` set.
fn server(url: &str, room: &str, env: &[(&str, &str)]) -> Server {
    let mut command = gochat();
    command
        .args(["serve", "127.0.0.1:0", "--redis", url, "--room", room])
        .envs(env.iter().copied());
    Server::start_with(&mut command)
}

/// Two members, one on each server, each seeing the other's line.
fn a_line_crosses(a: &Server, b: &Server) -> (Member, Member) {
    let mut ada = a.join();
    let mut bob = b.join();
    ada.lines_until(|l| l == format!("{} has arrived", bob.name));
    ada.say("over to you");
    bob.lines_until(|l| l == format!("{}: over to you", ada.name));
    bob.say("and back");
    ada.lines_until(|l| l == format!("{}: and back", bob.name));
    (ada, bob)
}

/// `gochat serve --redis URL` exits 1 with one line, which must start with `want`.
fn refused_at_start(url: &str, env: &[(&str, &str)], want: &str) -> String {
    let mut command = gochat();
    command
        .args(["serve", "127.0.0.1:0", "--redis", url])
        .envs(env.iter().copied());
    let out = command.output().expect("run gochat serve");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with(want), "{err:?} should start with {want:?}");
    err
}

#[test]
fn a_redis_with_a_password_is_joined_with_it_in_the_url() {
    let Some(redis) = Redis::start_with(Config {
        password: Some("s3cret".into()),
        ..Config::default()
    }) else {
        return;
    };
    let url = redis.url();
    assert!(url.starts_with("redis://:s3cret@"), "{url}");
    let a = server(&url, "auth", &[]);
    let b = server(&url, "auth", &[]);
    a_line_crosses(&a, &b);
    // A wrong password is refused at start, and no password is ever shown.
    let wrong = url.replace("s3cret", "guess");
    let shown = format!(
        "gochat: cannot reach redis at redis://:***@127.0.0.1:{}/: ",
        redis.port
    );
    let err = refused_at_start(&wrong, &[], &shown);
    assert!(!err.contains("guess"), "{err}");
    let err = refused_at_start(
        &url.replace(":s3cret@", ""),
        &[],
        &shown.replace(":***@", ""),
    );
    assert!(err.to_lowercase().contains("auth"), "{err}");
}

#[test]
fn an_acl_user_joins_with_user_and_password_in_the_url() {
    let Some(redis) = Redis::start_with(Config {
        user: Some(("gochat".into(), "pa55".into())),
        ..Config::default()
    }) else {
        return;
    };
    let url = redis.url();
    assert!(url.starts_with("redis://gochat:pa55@"), "{url}");
    let a = server(&url, "acl", &[]);
    let b = server(&url, "acl", &[]);
    a_line_crosses(&a, &b);
    let shown = format!(
        "gochat: cannot reach redis at redis://gochat:***@127.0.0.1:{}/: ",
        redis.port
    );
    refused_at_start(&url.replace("pa55", "nope"), &[], &shown);
}

#[test]
fn rediss_reaches_redis_over_tls_checking_its_certificate() {
    let Some(redis) = Redis::start_with(Config {
        tls: true,
        ..Config::default()
    }) else {
        return;
    };
    let url = redis.tls_url();
    let tls = redis.tls.as_ref().expect("tls files");
    let ca = tls.ca.to_string_lossy().into_owned();
    let trust = [("SSL_CERT_FILE", ca.as_str())];
    let a = server(&url, "tls", &trust);
    let b = server(&url, "tls", &trust);
    a_line_crosses(&a, &b);
    // A certificate nobody vouches for is refused.
    let nowhere = [("SSL_CERT_FILE", "/nonexistent/ca.pem")];
    refused_at_start(
        &url,
        &nowhere,
        &format!("gochat: cannot reach redis at {url}: "),
    );
}

#[test]
fn the_room_follows_a_sentinel_failover() {
    let Some(mut sentinels) = Sentinels::start() else {
        return;
    };
    let url = sentinels.url();
    let a = server(&url, "failover", &[]);
    let b = server(&url, "failover", &[]);
    let (mut ada, mut bob) = a_line_crosses(&a, &b);
    sentinels.kill_master();
    sentinels.wait_promoted(PATIENCE);
    for member in [&mut ada, &mut bob] {
        member.lines_until(|l| l == "gochat: the room's link is back");
    }
    ada.say("still one room");
    bob.lines_until(|l| l == format!("{}: still one room", ada.name));
    a.expect_log("gochat: redis for the room is now 127.0.0.1:");
    b.expect_log("gochat: redis for the room is now 127.0.0.1:");
    // The promoted replica is the master now: /who works on both servers.
    ada.say("/who");
    let everyone = format!("gochat: 2 here: {}, {}", ada.name, bob.name);
    ada.lines_until(|l| l == everyone);
}

#[test]
fn a_sentinel_url_that_names_no_sentinel_is_refused() {
    let port = common::closed_port().port();
    let url = format!("redis+sentinel://:pw@127.0.0.1:{port}/gochat");
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--redis", &url]);
    assert_eq!(status.code(), Some(1), "{err}");
    let shown = format!("redis+sentinel://:***@127.0.0.1:{port}/gochat");
    assert!(
        err.starts_with(&format!("gochat: cannot reach redis at {shown}: ")),
        "{err}"
    );
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--redis", "redis+sentinel://h:1/"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("names no master"), "{err}");
}
