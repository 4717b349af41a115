//! CL.PEEK: what CL.THROTTLE would reply now, writing nothing, also where writes are refused
//! (read-only replicas, MULTI on a replica, cluster replicas after READONLY).

mod common;

use common::*;

fn peek(con: &mut Connection, key: &[u8], args: &[&str]) -> Vec<i64> {
    redis::cmd("CL.PEEK")
        .arg(key)
        .arg(args)
        .query(con)
        .unwrap_or_else(|e| panic!("CL.PEEK {args:?}: {e}"))
}

#[test]
fn a_peek_replies_what_the_next_throttle_replies() {
    let server = Server::start();
    let mut con = server.connect();
    // Periods of minutes: the microseconds between a peek and its throttle never move a
    // reply across a second.
    let sequence: [&[&str]; 10] = [
        &["4", "1", "60"],
        &["4", "1", "60", "2"],
        &["4", "1", "60", "3"],
        &["4", "1", "60"],
        &["4", "1", "60", "-1"],
        &["4", "1", "60", "0"],
        &["4", "1", "60", "9"],
        &["4", "1", "60", "-20"],
        &["4", "1", "60", "5"],
        &["4", "1", "60", "1"],
    ];
    for args in sequence {
        let before = key_state(&mut con, b"k");
        let peeked = peek(&mut con, b"k", args);
        assert_eq!(key_state(&mut con, b"k"), before, "CL.PEEK {args:?} wrote");
        let taken = throttle(&mut con, b"k", args);
        assert_eq!(peeked, taken, "{args:?}");
    }
    // Default quantity 1, and MS.
    assert_eq!(
        peek(&mut con, b"fresh", &["9", "10", "1", "MS"]),
        [0, 10, 9, -1, 100]
    );
    assert_eq!(get(&mut con, b"fresh"), None);
}

#[test]
fn peek_errors_and_its_command_info() {
    let server = Server::start();
    let mut con = server.connect();
    redis::cmd("RPUSH")
        .arg("list")
        .arg("a")
        .query::<()>(&mut con)
        .expect("RPUSH");
    redis::cmd("SET")
        .arg("word")
        .arg("abc")
        .query::<()>(&mut con)
        .expect("SET");
    let cases: [(&[&str], &str); 6] = [
        (
            &["k", "1", "1", "1", "BLOCK", "5"],
            "ERR CL.PEEK only looks",
        ),
        (
            &["k", "1", "1", "1", "2", "ATMOST"],
            "ERR CL.PEEK only looks",
        ),
        (&["k", "x", "1", "1"], "ERR invalid max_burst"),
        (&["k", "1", "1", "1", "FOO"], "ERR invalid quantity"),
        (&["list", "1", "1", "1"], "WRONGTYPE"),
        (
            &["word", "1", "1", "1"],
            "ERR key holds a string that is not",
        ),
    ];
    for (args, expected) in cases {
        let error = error_of(&mut con, redis::cmd("CL.PEEK").arg(args));
        assert!(error.starts_with(expected), "{args:?}: {error}");
    }
    let error = error_of(&mut con, redis::cmd("CL.PEEK").arg(&["k", "1", "1"]));
    assert!(error.contains("wrong number of arguments"), "{error}");

    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("CL.PEEK")
        .query(&mut con)
        .expect("COMMAND INFO");
    let text = format!("{info:?}");
    assert!(
        text.contains("readonly") && text.contains("fast") && !text.contains("write"),
        "{text}"
    );
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg(&["CL.PEEK", "the-key", "1", "1", "1"])
        .query(&mut con)
        .expect("GETKEYS");
    assert_eq!(keys, ["the-key"]);
}

#[test]
fn peeks_run_on_a_read_only_replica_and_in_its_transactions() {
    let primary = Server::start();
    let replica = start_replica(&primary, true);
    let mut writer = primary.connect();
    throttle(&mut writer, b"k", &["4", "1", "60", "3"]);
    wait_for_replicas(&mut writer, 1);

    let mut reader = replica.connect();
    assert_eq!(
        peek(&mut reader, b"k", &["4", "1", "60"]),
        peek(&mut writer, b"k", &["4", "1", "60"])
    );
    let error = error_of(
        &mut reader,
        redis::cmd("CL.THROTTLE").arg(&["k", "4", "1", "60"]),
    );
    assert!(error.starts_with("READONLY"), "{error}");

    redis::cmd("MULTI").query::<()>(&mut reader).expect("MULTI");
    redis::cmd("CL.PEEK")
        .arg(&["k", "4", "1", "60", "2"])
        .query::<()>(&mut reader)
        .expect("queued");
    let replies: Vec<Vec<i64>> = redis::cmd("EXEC").query(&mut reader).expect("EXEC");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0][..3], [0, 5, 0]);
}

#[test]
fn peeks_run_on_cluster_replicas_after_readonly() {
    let cluster = Cluster::start(3, 1);
    let mut client = cluster.client();
    let key = "{user42}:min";
    let taken: Vec<i64> = redis::cmd("CL.THROTTLE")
        .arg(&[key, "9", "10", "60", "4"])
        .query(&mut client)
        .expect("CL.THROTTLE");
    assert_eq!(taken[2], 6);
    let owner = cluster.owner(key);
    let mut primary = owner.connect();
    wait_for_replicas(&mut primary, 1);
    let owner_id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut primary)
        .expect("MYID");

    let replica = cluster
        .nodes
        .iter()
        .find(|node| {
            let mut con = node.connect();
            info_field(&mut con, "replication", "role") == "slave"
                && redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query::<String>(&mut con)
                    .expect("NODES")
                    .lines()
                    .any(|line| line.contains("myself") && line.contains(&owner_id))
        })
        .expect("a replica of the key's owner");
    let mut con = replica.connect();
    let moved = error_of(&mut con, redis::cmd("CL.PEEK").arg(&[key, "9", "10", "60"]));
    assert!(moved.starts_with("MOVED"), "{moved}");
    redis::cmd("READONLY")
        .query::<()>(&mut con)
        .expect("READONLY");
    assert_eq!(
        peek(&mut con, key.as_bytes(), &["9", "10", "60"])[..3],
        [0, 10, 5]
    );
}
