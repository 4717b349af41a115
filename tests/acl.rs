//! ACL categories: @write @fast where the server supports module categories (Redis 7.2+,
//! Valkey), and per-command rules everywhere.

mod common;

use common::*;

/// The Redis version the server reports (Valkey reports the Redis version it is compatible with).
fn redis_version(con: &mut Connection) -> (u32, u32) {
    let version = info_field(con, "server", "redis_version");
    let mut parts = version
        .split('.')
        .map(|p| p.parse::<u32>().expect("numeric version"));
    (parts.next().expect("major"), parts.next().expect("minor"))
}

fn categories(con: &mut Connection, command: &str) -> String {
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(command)
        .query(con)
        .expect("COMMAND INFO");
    // [[name, arity, flags, first, last, step, acl categories, ...]]
    let Value::Array(entries) = info else {
        panic!("{info:?}")
    };
    let Some(Value::Array(entry)) = entries.first() else {
        panic!("{entries:?}")
    };
    format!("{:?}", entry.get(6).expect("categories"))
}

fn as_user(server: &Server, rules: &[&str]) -> Connection {
    let mut admin = server.connect();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("app")
        .arg(&["reset", "on", ">secret", "~*"])
        .arg(rules)
        .query::<()>(&mut admin)
        .expect("ACL SETUSER");
    let mut con = server.connect();
    redis::cmd("AUTH")
        .arg("app")
        .arg("secret")
        .query::<()>(&mut con)
        .expect("AUTH");
    con
}

#[test]
fn write_category_is_enforced_where_the_server_supports_it() {
    let server = Server::start();
    let mut con = server.connect();
    let supported = redis_version(&mut con) >= (7, 2);
    let throttle_categories = categories(&mut con, "CL.THROTTLE");
    let all_categories = categories(&mut con, "CL.THROTTLEALL");

    let mut app = as_user(&server, &["+@all", "-@write"]);
    let result = redis::cmd("CL.THROTTLE")
        .arg(&["k", "1", "1", "1"])
        .query::<Value>(&mut app);
    if supported {
        assert!(
            throttle_categories.contains("write") && throttle_categories.contains("fast"),
            "{throttle_categories}"
        );
        assert!(
            all_categories.contains("write") && !all_categories.contains("fast"),
            "{all_categories}"
        );
        let error = result.expect_err("a user without @write is denied");
        assert_eq!(error.code(), Some("NOPERM"), "{error}");
    } else {
        // Redis 7.0 has no module ACL categories: docs/production.md says to name the commands instead.
        assert!(
            !throttle_categories.contains("write"),
            "{throttle_categories}"
        );
        assert!(
            result.is_ok(),
            "on 7.0, -@write does not cover module commands"
        );
    }
}

#[test]
fn naming_the_command_works_on_every_server() {
    let server = Server::start();
    let mut app = as_user(&server, &["+@all", "-cl.throttle", "-cl.throttleall"]);
    for cmd in [
        redis::cmd("CL.THROTTLE").arg(&["k", "1", "1", "1"]).clone(),
        redis::cmd("CL.THROTTLEALL")
            .arg(&["1", "k", "1", "1", "1"])
            .clone(),
    ] {
        let error = cmd.query::<Value>(&mut app).expect_err("denied");
        assert_eq!(error.code(), Some("NOPERM"), "{error}");
    }
    let mut allowed = as_user(&server, &["-@all", "+cl.throttle"]);
    assert_eq!(throttle(&mut allowed, b"k", &["1", "1", "1"])[0], 0);
}

/// CL.PEEK only reads: a user allowed nothing but it, or (where module categories exist)
/// only @read, may peek but not take.
#[test]
fn a_read_only_user_may_peek_but_not_take() {
    let server = Server::start();
    let mut admin = server.connect();
    assert_eq!(throttle(&mut admin, b"k", &["4", "1", "60"])[2], 4);
    let taken = key_state(&mut admin, b"k");
    let peek = redis::cmd("CL.PEEK").arg(&["k", "4", "1", "60"]).clone();
    let take = redis::cmd("CL.THROTTLE")
        .arg(&["k", "4", "1", "60"])
        .clone();

    let mut only_peek = as_user(&server, &["-@all", "+cl.peek"]);
    let reply: Vec<i64> = peek.query(&mut only_peek).expect("CL.PEEK allowed");
    assert_eq!(reply[..3], [0, 5, 3]);
    let error = take.query::<Value>(&mut only_peek).expect_err("denied");
    assert_eq!(error.code(), Some("NOPERM"), "{error}");

    let peek_categories = categories(&mut admin, "CL.PEEK");
    let mut reader = as_user(&server, &["-@all", "+@read"]);
    if redis_version(&mut admin) >= (7, 2) {
        assert!(
            peek_categories.contains("read") && peek_categories.contains("fast"),
            "{peek_categories}"
        );
        assert_eq!(peek.query::<Vec<i64>>(&mut reader).expect("@read")[2], 3);
        let error = take.query::<Value>(&mut reader).expect_err("denied");
        assert_eq!(error.code(), Some("NOPERM"), "{error}");
    } else {
        // Redis 7.0: no module categories, so @read does not reach module commands.
        assert!(!peek_categories.contains("read"), "{peek_categories}");
        let error = peek.query::<Value>(&mut reader).expect_err("denied on 7.0");
        assert_eq!(error.code(), Some("NOPERM"), "{error}");
    }
    assert_eq!(key_state(&mut admin, b"k"), taken, "peeks wrote nothing");
}
