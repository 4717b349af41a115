//! The Redis Functions library (lua/gcra.lua) on real servers: the README's examples without
//! the module, the module's error texts, keys shared with the module in both directions,
//! replicas and AOF replays byte-identical, the EVAL form, and the read-only peek entry.

mod common;

use common::*;

fn all_cmd(function: &str, keys: &[&str], args: &[&str]) -> redis::Cmd {
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    fcall_cmd(function, &keys, &args)
}

fn fcall_all(con: &mut Connection, keys: &[&str], args: &[&str]) -> Vec<i64> {
    outcome(con, &all_cmd("cl_throttleall", keys, args))
        .unwrap_or_else(|e| panic!("cl_throttleall {keys:?} {args:?}: {e}"))
}

/// The same command through the module: `CL.THROTTLE key args..`.
fn module_cmd(key: &[u8], args: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("CL.THROTTLE");
    cmd.arg(key).arg(args);
    cmd
}

#[test]
fn readme_examples_give_the_module_replies_without_the_module() {
    let server = function_server();
    let mut con = server.connect();
    assert_eq!(
        fcall_throttle(&mut con, b"user123", &["15", "30", "60"]),
        [0, 16, 15, -1, 2]
    );
    for i in 2..=16 {
        assert_eq!(
            fcall_throttle(&mut con, b"user123", &["15", "30", "60"]),
            [0, 16, 16 - i, -1, 2 * i]
        );
    }
    assert_eq!(
        fcall_throttle(&mut con, b"user123", &["15", "30", "60"]),
        [1, 16, 0, 2, 32]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"user123", &["15", "30", "60", "0"]),
        [0, 16, 0, -1, 32]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"user123", &["15", "30", "60", "-3"]),
        [0, 16, 3, -1, 26]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"big", &["15", "30", "60", "17"]),
        [1, 16, 16, -1, 0]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"api:key", &["10", "100", "1", "1", "MS"]),
        [0, 11, 10, -1, 10]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"bursty", &["4", "1", "0.25", "MS"]),
        [0, 5, 4, -1, 250]
    );
    assert_eq!(
        fcall_all(
            &mut con,
            &["{user42}:sec", "{user42}:min", "{user42}:day"],
            &["19", "10", "1", "99", "100", "60", "999", "1000", "86400"]
        ),
        [0, 20, 19, -1, 87]
    );

    // The stored value is the module's: decimal nanoseconds, expiring at the TAT rounded up
    // to the millisecond. TIME gives microseconds, so the last three digits are zeros.
    let before = wall_clock_ns();
    fcall_throttle(&mut con, b"format", &["0", "1", "60"]);
    let (value, expiry) = key_state(&mut con, b"format");
    let tat: i64 = String::from_utf8(value.expect("written"))
        .expect("ASCII")
        .parse()
        .expect("decimal");
    assert!(tat >= before + 60_000_000_000 - 1_000, "{tat}");
    assert_eq!(tat % 1_000, 0, "a microsecond clock");
    assert_eq!(expiry, tat / 1_000_000 + i64::from(tat % 1_000_000 != 0));
}

/// Arguments after the key that the module rejects, each with the function's error.
const BAD_ARGUMENTS: [&[&[u8]]; 32] = [
    &[b"1", b"1", b"1", b"1", b"MS", b"MS"],
    &[b"1", b"1", b"1", b"1", b"ATMOST", b"ATMOST"],
    &[b"1", b"1", b"1", b"1", b"ATMOST", b"SOFT", b"2"],
    &[b"1", b"1", b"1", b"1", b"BLOCK", b"-1"],
    &[b"1", b"1", b"1", b"1", b"BLOCK", b"9223372036855"],
    &[b"1", b"1", b"1", b"1", b"BLOCK"],
    &[b"1", b"1", b"1", b"1", b"SOFT", b"0.5"],
    &[b"1", b"1", b"1", b"1", b"SOFT", b"1000.000000001"],
    &[b"1", b"1", b"1", b"0", b"ATMOST"],
    &[b"1", b"1", b"1", b"ms", b"block", b"1", b"x"],
    &[],
    &[b"1", b"1"],
    &[b"1", b"1", b"1", b"1", b"MS", b"1", b"1", b"1"],
    &[b"1", b"1", b"1", b"1", b"SECONDS"],
    &[b"1", b"1", b"1", b"FOO"],
    &[b"1", b"1", b"1", b"MS", b"1"],
    &[b"1", b"1", b"0.0000000001"],
    &[b"x", b"1", b"1"],
    &[b"-1", b"1", b"1"],
    &[b"9223372036854775807", b"1", b"1"],
    &[b"1.5", b"1", b"1"],
    &[b"1", b"0", b"1"],
    &[b"1", b"\xff\xfe", b"1"],
    &[b"1", b" 1", b"1"],
    &[b"1", b"1", b"0"],
    &[b"1", b"1", b""],
    &[b"1", b"1", b".5"],
    &[b"1", b"1", b"1."],
    &[b"1", b"1", b"9223372036.854775808"],
    &[b"1", b"1", b"1", b"9223372036854775808"],
    &[b"1", b"5000000000", b"1"],
    &[b"-1", b"0", b"x"],
];

#[test]
fn errors_are_the_module_texts_and_write_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    load_functions(&mut con, &function_library());
    throttle(&mut con, b"existing", &["5", "1", "60"]);
    let before = key_state(&mut con, b"existing");
    for key in [&b"fresh"[..], b"existing"] {
        for args in BAD_ARGUMENTS {
            let module = outcome(&mut con, &module_cmd(key, args));
            let function = outcome(&mut con, &fcall_cmd("cl_throttle", &[key], args));
            assert!(module.is_err(), "{args:?}");
            assert_eq!(function, module, "{args:?}");
        }
    }
    assert_eq!(get(&mut con, b"fresh"), None);
    assert_eq!(key_state(&mut con, b"existing"), before);

    // Keys that are not limiters.
    redis::cmd("RPUSH")
        .arg("list")
        .arg("x")
        .query::<()>(&mut con)
        .expect("RPUSH");
    redis::cmd("SET")
        .arg("word")
        .arg("hello")
        .query::<()>(&mut con)
        .expect("SET");
    for key in [&b"list"[..], b"word"] {
        let args: &[&[u8]] = &[b"1", b"1", b"1"];
        let module = outcome(&mut con, &module_cmd(key, args));
        assert!(module.is_err());
        assert_eq!(
            outcome(&mut con, &fcall_cmd("cl_throttle", &[key], args)),
            module
        );
    }
    assert_eq!(get(&mut con, b"word").as_deref(), Some(&b"hello"[..]));

    // CL.THROTTLEALL: numlimits is the function's number of keys.
    let all_cases: [(&[&str], &[&str]); 6] = [
        (&["a"], &["1", "1"]),
        (&["a", "b"], &["1", "1", "1"]),
        (&["a"], &["1", "1", "1", "1", "MS", "junk"]),
        (&["a"], &["1", "1", "1", "1", "junk"]),
        (&["a", "b"], &["1", "1", "1", "1", "0", "1"]),
        (&["a", "list"], &["1", "1", "1", "1", "1", "1"]),
    ];
    for (keys, args) in all_cases {
        let mut module_args = vec![keys.len().to_string()];
        for (i, key) in keys.iter().enumerate() {
            module_args.push(key.to_string());
            module_args.extend(args.iter().skip(3 * i).take(3).map(|a| a.to_string()));
        }
        module_args.extend(args.iter().skip(3 * keys.len()).map(|a| a.to_string()));
        let module = outcome(&mut con, redis::cmd("CL.THROTTLEALL").arg(&module_args));
        assert!(module.is_err(), "{module_args:?}");
        assert_eq!(
            outcome(&mut con, &all_cmd("cl_throttleall", keys, args)),
            module,
            "{keys:?} {args:?}"
        );
    }
    let duplicate = outcome(
        &mut con,
        &all_cmd(
            "cl_throttleall",
            &["a", "a"],
            &["1", "1", "1", "5", "1", "60"],
        ),
    );
    assert_eq!(
        duplicate,
        outcome(
            &mut con,
            redis::cmd("CL.THROTTLEALL").arg(&["2", "a", "1", "1", "1", "a", "5", "1", "60"])
        )
    );
    assert_eq!(
        outcome(&mut con, &all_cmd("cl_throttleall", &[], &["1", "1", "1"])),
        outcome(
            &mut con,
            redis::cmd("CL.THROTTLEALL").arg(&["0", "1", "1", "1"])
        )
    );
    assert_eq!(get(&mut con, b"a"), None);

    // The one range the function cannot serve exactly: replies above 2^53.
    let error = outcome(
        &mut con,
        &fcall_cmd(
            "cl_throttle",
            &[b"huge"],
            &[b"9007199254740992", b"1", b"1"],
        ),
    )
    .expect_err("max_burst beyond 2^53 - 1");
    assert!(error.starts_with("ERR invalid max_burst"), "{error}");
    assert_eq!(
        fcall_throttle(&mut con, b"huge", &["9007199254740991", "1", "1"]),
        throttle(&mut con, b"huge2", &["9007199254740991", "1", "1"])
    );
}

#[test]
fn module_and_function_serve_the_same_keys_in_both_directions() {
    let server = Server::start();
    let mut con = server.connect();
    load_functions(&mut con, &function_library());
    // One token a minute, bursts of 5: the TAT moves exactly 60 s per call, whoever serves it.
    const MINUTE: i64 = 60_000_000_000;
    let limit = ["4", "1", "60"];
    assert_eq!(throttle(&mut con, b"shared", &limit), [0, 5, 4, -1, 60]);
    let first = tat_of(&mut con, b"shared");
    assert_eq!(
        fcall_throttle(&mut con, b"shared", &limit),
        [0, 5, 3, -1, 120]
    );
    assert_eq!(tat_of(&mut con, b"shared"), first + MINUTE);
    assert_eq!(throttle(&mut con, b"shared", &limit), [0, 5, 2, -1, 180]);
    assert_eq!(tat_of(&mut con, b"shared"), first + 2 * MINUTE);
    assert_eq!(
        fcall_throttle(&mut con, b"shared", &["4", "1", "60", "2"]),
        [0, 5, 0, -1, 300]
    );
    assert_eq!(tat_of(&mut con, b"shared"), first + 4 * MINUTE);
    let limited = throttle(&mut con, b"shared", &limit);
    assert_eq!(limited[..3], [1, 5, 0]);
    assert_eq!(fcall_throttle(&mut con, b"shared", &limit)[..3], [1, 5, 0]);
    // Peeks agree, and the expiry is the one both write.
    let state = key_state(&mut con, b"shared");
    assert_eq!(
        fcall_throttle(&mut con, b"shared", &["4", "1", "60", "0"]),
        throttle(&mut con, b"shared", &["4", "1", "60", "0"])
    );
    assert_eq!(key_state(&mut con, b"shared"), state);
    let last = first + 4 * MINUTE;
    assert_eq!(state.1, last / 1_000_000 + i64::from(last % 1_000_000 != 0));
    // A refund past full through the function deletes the module's key; the module then
    // sees a full bucket, and the function reads what the module writes next.
    assert_eq!(
        fcall_throttle(&mut con, b"shared", &["4", "1", "60", "-10"]),
        [0, 5, 5, -1, 0]
    );
    assert_eq!(get(&mut con, b"shared"), None);
    assert_eq!(throttle(&mut con, b"shared", &limit), [0, 5, 4, -1, 60]);
    assert_eq!(
        fcall_throttle(&mut con, b"shared", &["4", "1", "60", "0"]),
        [0, 5, 4, -1, 60]
    );

    // Several limits: written by one, continued by the other.
    let keys = ["{u}:a", "{u}:b"];
    let args = ["2", "1", "60", "9", "1", "3600"];
    let module_all = |con: &mut Connection| -> Vec<i64> {
        redis::cmd("CL.THROTTLEALL")
            .arg(&[
                "2", keys[0], args[0], args[1], args[2], keys[1], args[3], args[4], args[5],
            ])
            .query(con)
            .expect("CL.THROTTLEALL")
    };
    assert_eq!(module_all(&mut con), [0, 3, 2, -1, 3600]);
    let tats: Vec<i64> = keys
        .iter()
        .map(|k| tat_of(&mut con, k.as_bytes()))
        .collect();
    assert_eq!(fcall_all(&mut con, &keys, &args), [0, 3, 1, -1, 7200]);
    assert_eq!(tat_of(&mut con, keys[0].as_bytes()), tats[0] + MINUTE);
    assert_eq!(tat_of(&mut con, keys[1].as_bytes()), tats[1] + 60 * MINUTE);
    assert_eq!(module_all(&mut con), [0, 3, 0, -1, 10800]);
    assert_eq!(fcall_all(&mut con, &keys, &args)[..3], [1, 3, 0]);
}

/// A primary without the module, logging to an AOF, with the library loaded.
fn function_aof_primary() -> Server {
    let server = Server::start_with(Options {
        with_module: false,
        extra: [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--repl-ping-replica-period",
            "3600",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Options::default()
    });
    load_functions(&mut server.connect(), &function_library());
    server
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[test]
fn replica_and_aof_replay_end_byte_identical() {
    let mut primary = function_aof_primary();
    let replica = start_replica(&primary, false);
    let mut p = primary.connect();
    let mut r = replica.connect();

    let keys: Vec<Vec<u8>> = (0..12)
        .map(|i| format!("user:{i}").into_bytes())
        .chain([
            b"\x00bin\xff".to_vec(),
            b"refunded".to_vec(),
            b"partly".to_vec(),
        ])
        .collect();
    for (i, key) in keys.iter().take(12).enumerate() {
        fcall_throttle(&mut p, key, &["5", "10", "3600", &(i % 4).to_string()]);
    }
    fcall_throttle(&mut p, b"\x00bin\xff", &["1", "1", "3600"]);
    fcall_throttle(&mut p, b"refunded", &["3", "1", "3600", "2"]);
    fcall_throttle(&mut p, b"refunded", &["3", "1", "3600", "-5"]);
    fcall_throttle(&mut p, b"partly", &["3", "1", "3600", "3"]);
    fcall_throttle(&mut p, b"partly", &["3", "1", "3600", "-1"]);
    fcall_all(
        &mut p,
        &["{t}:a", "{t}:b"],
        &["3", "1", "3600", "5", "2", "3600", "2", "MS"],
    );
    // Limited calls and peeks send nothing to replicas.
    let offset = info_field(&mut p, "replication", "master_repl_offset");
    assert_eq!(
        fcall_throttle(&mut p, b"partly", &["3", "1", "3600", "10"])[0],
        1
    );
    fcall_throttle(&mut p, b"partly", &["3", "1", "3600", "0"]);
    outcome(
        &mut p,
        &fcall_cmd("cl_peek", &[b"partly"], &[b"3", b"1", b"3600"]),
    )
    .expect("cl_peek");
    assert_eq!(
        info_field(&mut p, "replication", "master_repl_offset"),
        offset
    );
    wait_for_replicas(&mut p, 1);

    let mut all_keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut p).expect("KEYS");
    all_keys.sort();
    let mut replica_keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut r).expect("KEYS");
    replica_keys.sort();
    assert_eq!(all_keys, replica_keys);
    assert!(
        !all_keys.contains(&b"refunded".to_vec()),
        "a full refund deletes"
    );
    assert_eq!(
        all_keys.len(),
        12 - 3 + 4,
        "quantity 0 keys are never created"
    );
    let on_primary = key_states(&mut p, &all_keys);
    assert!(on_primary
        .iter()
        .all(|(v, expiry)| v.is_some() && *expiry > 0));
    assert_eq!(on_primary, key_states(&mut r, &all_keys), "replica");

    // The AOF holds the effects, never the call or the clock reading.
    let aof = aof_bytes(&primary);
    assert!(
        contains(&aof, b"PXAT"),
        "effects are logged as SET ... PXAT"
    );
    // (As RESP arguments: the library's own text, logged by FUNCTION LOAD, names FCALL.)
    assert!(!contains(&aof, b"$5\r\nFCALL\r\n"), "never the call");
    assert!(!contains(&aof, b"$4\r\nTIME\r\n"), "never the clock");
    drop(replica);
    primary.restart();
    let mut p = primary.connect();
    assert_eq!(key_states(&mut p, &all_keys), on_primary, "AOF replay");
    // The library came back with the AOF too.
    assert_eq!(
        fcall_throttle(&mut p, b"user:1", &["5", "10", "3600", "0"])[2],
        5
    );
}

/// lua/gcra_script.lua is lua/gcra.lua made into a script, and kept so: after a change to the
/// library, `UPDATE_LUA_SCRIPT=1 cargo test --test function script_file` writes it again.
#[test]
fn script_file_is_made_from_the_library() {
    let made = script_form(&function_library());
    if std::env::var_os("UPDATE_LUA_SCRIPT").is_some() {
        std::fs::write(workspace_root().join(SCRIPT_FILE), &made).expect("write the script");
    }
    assert!(
        script_file() == made,
        "{SCRIPT_FILE} is not lua/gcra.lua made into a script: run \
         UPDATE_LUA_SCRIPT=1 cargo test --test function script_file"
    );
}

#[test]
fn eval_form_replies_like_the_function() {
    // The script form, and the library without its first line, which is a script too (it
    // compiles its exact path at every call that needs it).
    let library = function_library();
    let (_, library_as_script) = library.split_once('\n').expect("a first line");
    for script in [script_file(), library_as_script.to_string()] {
        eval_form_replies_like_the_function_with(&script);
    }
}

fn eval_form_replies_like_the_function_with(script: &str) {
    let server = function_server();
    let mut con = server.connect();
    let eval = |con: &mut Connection, key: &str, entry: &str, args: &[&str]| {
        outcome(
            con,
            redis::cmd("EVAL")
                .arg(script)
                .arg(1)
                .arg(key)
                .arg(entry)
                .arg(args),
        )
    };
    for _ in 0..3 {
        let by_eval = eval(&mut con, "eval", "cl_throttle", &["2", "1", "60"]);
        let by_fcall = fcall_throttle(&mut con, b"fcall", &["2", "1", "60"]);
        assert_eq!(by_eval, Ok(by_fcall));
    }
    assert_eq!(
        eval(&mut con, "eval", "cl_throttle", &["2", "1", "60"]),
        Ok(fcall_throttle(&mut con, b"fcall", &["2", "1", "60"]))
    );
    let (eval_tat, fcall_tat) = (tat_of(&mut con, b"eval"), tat_of(&mut con, b"fcall"));
    assert!(
        (eval_tat - fcall_tat).abs() < 1_000_000_000,
        "{eval_tat} {fcall_tat}"
    );
    assert_eq!(
        eval(&mut con, "eval", "cl_peek", &["2", "1", "60", "0", "MS"]).map(|r| r[..3].to_vec()),
        Ok(vec![0, 3, 0])
    );

    // EVALSHA after SCRIPT LOAD, with CL.THROTTLEALL's layout.
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script)
        .query(&mut con)
        .expect("SCRIPT LOAD");
    let evalsha = outcome(
        &mut con,
        redis::cmd("EVALSHA").arg(&sha).arg(2).arg(&[
            "{e}:a",
            "{e}:b",
            "cl_throttleall",
            "1",
            "1",
            "1",
            "5",
            "1",
            "60",
        ]),
    );
    assert_eq!(evalsha, Ok(vec![0, 2, 1, -1, 60]));

    // The exact path's options, each on fresh keys: the same replies as FCALL's.
    let options: [&[&str]; 4] = [
        &["5", "1", "60", "9", "ATMOST"],
        &["5", "1", "60", "1", "BLOCK", "10"],
        &["5", "1", "60", "-2"],
        &["5", "1", "60", "1", "BLOCK", "soon"],
    ];
    for (i, args) in options.into_iter().enumerate() {
        let by_eval = eval(&mut con, &format!("opt:{i}:eval"), "cl_throttle", args);
        let key = format!("opt:{i}:fcall");
        let by_fcall = outcome(&mut con, &all_cmd("cl_throttle", &[&key], args));
        assert_eq!(by_eval, by_fcall, "{args:?}");
        // A decision (ATMOST's has six integers), except for the invalid BLOCK.
        let len = by_eval.as_ref().map(|reply| reply.len());
        assert_eq!(len.ok(), [Some(6), Some(5), Some(5), None][i], "{args:?}");
    }

    // Errors are the function's, and an unknown entry is named.
    assert_eq!(
        eval(&mut con, "e", "cl_throttle", &["1", "0", "1"]),
        outcome(&mut con, &all_cmd("cl_throttle", &["e"], &["1", "0", "1"]))
    );
    let unknown = eval(&mut con, "e", "CL.THROTTLE", &["1", "1", "1"]).expect_err("unknown");
    assert!(unknown.contains("unknown entry"), "{unknown}");
    assert_eq!(get(&mut con, b"e"), None);
}

#[test]
fn peek_entry_is_read_only_and_answers_on_replicas() {
    let primary = quiet_primary();
    load_functions(&mut primary.connect(), &function_library());
    let replica = start_replica(&primary, false);
    let mut p = primary.connect();
    let mut r = replica.connect();
    let limit = ["9", "1", "3600"];
    fcall_throttle(&mut p, b"k", &["9", "1", "3600", "4"]);
    wait_for_replicas(&mut p, 1);
    let state = key_state(&mut p, b"k");

    let ro = |con: &mut Connection, args: &[&str]| {
        outcome(con, &all_cmd("cl_peek", &["k"], args)).map(|reply| reply[..4].to_vec())
    };
    // cl_peek replies what cl_throttle would, with any quantity, and writes nothing; on a
    // replica through FCALL_RO.
    let quantities: [&[&str]; 4] = [
        &limit,
        &["9", "1", "3600", "0"],
        &["9", "1", "3600", "6"],
        &["9", "1", "3600", "7"],
    ];
    for args in quantities {
        let mut fcall_ro = redis::cmd("FCALL_RO");
        fcall_ro.arg("cl_peek").arg(1).arg("k").arg(args);
        let on_replica = outcome(&mut r, &fcall_ro).map(|reply| reply[..4].to_vec());
        assert_eq!(on_replica, ro(&mut p, args), "{args:?}");
    }
    assert_eq!(ro(&mut r, &limit), Ok(vec![0, 10, 5, -1]));
    assert_eq!(
        ro(&mut r, &["9", "1", "3600", "7"]),
        Ok(vec![1, 10, 6, 3600])
    );
    assert_eq!(key_state(&mut p, b"k"), state);
    assert_eq!(key_state(&mut r, b"k"), state);
    // The writing entry is refused on a replica.
    let error = outcome(&mut r, &all_cmd("cl_throttle", &["k"], &limit)).expect_err("read-only");
    assert!(error.starts_with("READONLY"), "{error}");
    // And cl_peek's reply is what cl_throttle then does.
    let args = ["9", "1", "3600", "2"];
    let peeked = ro(&mut p, &args).expect("cl_peek");
    assert_eq!(peeked[..3], fcall_throttle(&mut p, b"k", &args)[..3]);
}

#[test]
fn cluster_routes_calls_by_their_keys() {
    let cluster = Cluster::start(3, 0);
    for node in &cluster.nodes {
        load_functions(&mut node.connect(), &function_library());
    }
    let mut client = cluster.client();
    for i in 0..30 {
        let key = format!("user:{i}");
        // Capacity 2: two calls allowed, the third limited, on whichever node owns the key.
        for expected in [0, 0, 1] {
            let reply: Vec<i64> = all_cmd("cl_throttle", &[&key], &["1", "1", "60"])
                .query(&mut client)
                .expect("FCALL cl_throttle");
            assert_eq!(reply[0], expected, "{key}: {reply:?}");
        }
    }
    let all: Vec<i64> = all_cmd(
        "cl_throttleall",
        &["{u7}:sec", "{u7}:min"],
        &["4", "5", "1", "9", "100", "60"],
    )
    .query(&mut client)
    .expect("FCALL cl_throttleall");
    assert_eq!(all[..3], [0, 5, 4]);
    // Keys of different slots are refused before the function runs.
    let owner = cluster.owner("{u7}:sec");
    let error = outcome(
        &mut owner.connect(),
        &all_cmd(
            "cl_throttleall",
            &["{u7}:sec", "{u8}:sec"],
            &["1", "1", "1", "1", "1", "1"],
        ),
    )
    .expect_err("CROSSSLOT");
    assert!(error.starts_with("CROSSSLOT"), "{error}");
}

#[test]
fn at_maxmemory_redis_refuses_the_writing_entries_and_cl_peek_answers() {
    let server = function_server();
    let mut con = server.connect();
    fcall_throttle(&mut con, b"k", &["4", "1", "60"]);
    let state = key_state(&mut con, b"k");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut con)
        .expect("CONFIG SET");
    // The module's OutOfMemory text is Redis's own.
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    for quantity in ["1", "0", "-1"] {
        let error = outcome(
            &mut con,
            &all_cmd("cl_throttle", &["k"], &["4", "1", "60", quantity]),
        )
        .expect_err("refused");
        assert_eq!(error, oom, "quantity {quantity}");
    }
    let mut fcall_ro = redis::cmd("FCALL_RO");
    fcall_ro
        .arg("cl_peek")
        .arg(1)
        .arg("k")
        .arg(&["4", "1", "60"]);
    assert_eq!(
        outcome(&mut con, &fcall_ro).map(|r| r[..3].to_vec()),
        Ok(vec![0, 5, 3])
    );
    assert_eq!(key_state(&mut con, b"k"), state);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query(&mut con)
        .expect("CONFIG SET");
}

#[test]
fn modes_and_peek_reply_as_the_module() {
    let server = Server::start();
    let mut con = server.connect();
    load_functions(&mut con, &function_library());
    // ATMOST: the README's example, through the module and through the function.
    for (key, function) in [(&b"mail:module"[..], false), (b"mail:function", true)] {
        let args = ["49", "50", "60", "80", "ATMOST"];
        let first = if function {
            fcall_throttle(&mut con, key, &args)
        } else {
            throttle(&mut con, key, &args)
        };
        assert_eq!(first, [0, 50, 0, -1, 60, 50], "function: {function}");
        let second = if function {
            fcall_throttle(&mut con, key, &args)
        } else {
            throttle(&mut con, key, &args)
        };
        assert_eq!(second, [1, 50, 0, 2, 60, 0], "function: {function}");
    }
    // SOFT at the soft limit and beyond the hard one, where no draw decides.
    let soft = ["2", "1", "60", "3", "SOFT", "2"];
    assert_eq!(
        fcall_throttle(&mut con, b"soft", &soft),
        [0, 3, 0, -1, 180, 0]
    );
    assert_eq!(
        fcall_throttle(&mut con, b"soft", &["2", "1", "60", "4", "SOFT", "2"]),
        [1, 3, 0, 180, 180, 1000],
        "4 tokens never fit the capacity but fit the hard limit: retry when the bucket drains"
    );
    assert_eq!(
        throttle(&mut con, b"soft", &["2", "1", "60", "4", "SOFT", "2"]),
        [1, 3, 0, 180, 180, 1000],
        "the module agrees"
    );
    // BLOCK: a function cannot wait, and answers at once, as the module does in MULTI.
    throttle(&mut con, b"block:module", &["0", "1", "60"]);
    fcall_throttle(&mut con, b"block:function", &["0", "1", "60"]);
    let (in_multi,): (Vec<i64>,) = redis::pipe()
        .atomic()
        .cmd("CL.THROTTLE")
        .arg("block:module")
        .arg(&["0", "1", "60", "1", "BLOCK", "120000"])
        .query(&mut con)
        .expect("EXEC");
    let function = fcall_throttle(
        &mut con,
        b"block:function",
        &["0", "1", "60", "1", "BLOCK", "120000"],
    );
    assert_eq!(function[..3], [1, 1, 0]);
    assert_eq!(function[..3], in_multi[..3]);
    // cl_peek is CL.PEEK: the same reply, the same errors.
    throttle(&mut con, b"peeked", &["4", "1", "60", "2"]);
    for args in [
        &["4", "1", "60"][..],
        &["4", "1", "60", "3", "MS"],
        &["4", "1", "60", "9"],
    ] {
        let module: Vec<i64> = redis::cmd("CL.PEEK")
            .arg("peeked")
            .arg(args)
            .query(&mut con)
            .expect("CL.PEEK");
        let reply = outcome(&mut con, &all_cmd("cl_peek", &["peeked"], args)).expect("cl_peek");
        assert_eq!(reply[..4], module[..4], "{args:?}");
    }
    for args in [
        &["4", "1", "60", "1", "ATMOST"][..],
        &["4", "1"],
        &["4", "1", "60", "x"],
    ] {
        let module = outcome(&mut con, redis::cmd("CL.PEEK").arg("peeked").arg(args));
        assert!(module.is_err(), "{args:?}");
        assert_eq!(
            outcome(&mut con, &all_cmd("cl_peek", &["peeked"], args)),
            module
        );
    }
}

/// Issue 19: an option given twice is named as such, by the module and by the function, in
/// each command, within the argument cap and past it; two different modes "cannot be
/// combined" (whatever value follows the second); too many arguments that repeat no option
/// are the command's wrong arity. Nothing is written.
#[test]
fn an_option_twice_is_named_as_such_by_the_module_and_the_function() {
    const TWICE: &str = "ERR an option appears twice";
    const COMBINED: &str = "ERR BLOCK, ATMOST and SOFT cannot be combined: give at most one";
    let server = Server::start();
    let mut con = server.connect();
    load_functions(&mut con, &function_library());
    throttle(&mut con, b"existing", &["15", "30", "60"]);
    let before = key_state(&mut con, b"existing");
    // (the arguments after the key, the error; None: the command's wrong arity)
    let cases: [(&[&str], Option<&str>); 10] = [
        (
            &["15", "30", "60", "1", "BLOCK", "1", "BLOCK", "2"],
            Some(TWICE),
        ),
        (&["15", "30", "60", "1", "ATMOST", "ATMOST"], Some(TWICE)),
        (&["15", "30", "60", "SOFT", "2", "soft", "3"], Some(TWICE)),
        (
            &["15", "30", "60", "1", "MS", "SOFT", "2", "SOFT", "2"],
            Some(TWICE),
        ),
        (&["15", "30", "60", "BLOCK", "1", "BLOCK", "x"], Some(TWICE)),
        (&["15", "30", "60", "MS", "ms"], Some(TWICE)),
        (
            &["15", "30", "60", "1", "BLOCK", "1", "ATMOST"],
            Some(COMBINED),
        ),
        (&["15", "30", "60", "ATMOST", "SOFT", "x"], Some(COMBINED)),
        (&["15", "30", "60", "1", "2", "3", "4", "5"], None),
        (&["15", "30", "60", "1", "MS", "BLOCK", "1", "x"], None),
    ];
    for key in ["fresh", "existing"] {
        for (args, error) in cases {
            let want = |command: &str| {
                Err(error.map_or_else(
                    || format!("ERR wrong number of arguments for '{command}' command"),
                    str::to_string,
                ))
            };
            for (command, function) in [("CL.THROTTLE", "cl_throttle"), ("CL.PEEK", "cl_peek")] {
                let module = outcome(&mut con, redis::cmd(command).arg(key).arg(args));
                assert_eq!(module, want(command), "{command} {key} {args:?}");
                let function = outcome(&mut con, &all_cmd(function, &[key], args));
                assert_eq!(function, want(command), "{function:?} {key} {args:?}");
            }
            let module = outcome(
                &mut con,
                redis::cmd("CL.THROTTLEALL").arg(1).arg(key).arg(args),
            );
            assert_eq!(module, want("CL.THROTTLEALL"), "CL.THROTTLEALL {args:?}");
            let function = outcome(&mut con, &all_cmd("cl_throttleall", &[key], args));
            assert_eq!(function, want("CL.THROTTLEALL"), "cl_throttleall {args:?}");
        }
    }
    // Past the cap, CL.THROTTLE and CL.PEEK answer before reading the limit, as for the wrong
    // arity; CL.THROTTLEALL reads its limits first (their number says where options start).
    let bad_limit = ["x", "30", "60", "1", "MS", "ms", "x", "x"];
    for (command, function) in [("CL.THROTTLE", "cl_throttle"), ("CL.PEEK", "cl_peek")] {
        let module = outcome(&mut con, redis::cmd(command).arg("fresh").arg(&bad_limit));
        assert_eq!(module, Err(TWICE.to_string()), "{command}");
        let function = outcome(&mut con, &all_cmd(function, &["fresh"], &bad_limit));
        assert_eq!(function, module, "{function:?}");
    }
    let module = outcome(
        &mut con,
        redis::cmd("CL.THROTTLEALL")
            .arg(1)
            .arg("fresh")
            .arg(&bad_limit),
    );
    assert!(
        module
            .as_ref()
            .is_err_and(|e| e.starts_with("ERR invalid max_burst")),
        "{module:?}"
    );
    let function = outcome(&mut con, &all_cmd("cl_throttleall", &["fresh"], &bad_limit));
    assert_eq!(function, module);
    assert_eq!(get(&mut con, b"fresh"), None);
    assert_eq!(key_state(&mut con, b"existing"), before);
}

/// Issue 19: a refused SOFT request never says "retry in 0", through the module or the
/// function: `2 1 1 5 SOFT 2` on an empty key said `[1, 3, 3, 0, 0, 666]`. Larger than the
/// capacity, it waits at least an interval of the limits that refuse it, and 1 ms.
#[test]
fn soft_never_says_retry_in_zero_in_the_module_or_the_function() {
    let server = Server::start();
    let mut con = server.connect();
    load_functions(&mut con, &function_library());
    // (keys, the limits and options, the reply when refused, when admitted)
    type Texts = &'static [&'static str];
    let cases: [(Texts, Texts, [i64; 6], [i64; 6]); 6] = [
        (
            &["sx"],
            &["2", "1", "1", "5", "SOFT", "2"],
            [1, 3, 3, 1, 0, 666],
            [0, 3, 0, -1, 5, 666],
        ),
        (
            &["sx"],
            &["2", "1", "1", "5", "SOFT", "2", "MS"],
            [1, 3, 3, 1_000, 0, 666],
            [0, 3, 0, -1, 5_000, 666],
        ),
        // An interval of 1 us: at least 1 ms, so the seconds reply says 1.
        (
            &["fast"],
            &["0", "1000000", "1", "2", "SOFT", "3"],
            [1, 1, 1, 1, 0, 500],
            [0, 1, 0, -1, 0, 500],
        ),
        (
            &["fast"],
            &["0", "1000000", "1", "2", "SOFT", "3", "MS"],
            [1, 1, 1, 1, 0, 500],
            [0, 1, 0, -1, 1, 500],
        ),
        // Per second (capacity 1) and per minute (capacity 2, not refusing two tokens):
        // the per-second interval paces the retry.
        (
            &["{u}s", "{u}m"],
            &["0", "1", "1", "1", "10", "60", "2", "SOFT", "3"],
            [1, 1, 1, 1, 0, 500],
            [0, 1, 0, -1, 12, 500],
        ),
        (
            &["{u}s", "{u}m"],
            &["0", "1", "1", "1", "10", "60", "2", "SOFT", "3", "MS"],
            [1, 1, 1, 1_000, 0, 500],
            [0, 1, 0, -1, 12_000, 500],
        ),
    ];
    for (keys, args, refused, admitted) in cases {
        for function in [false, true] {
            let mut module_args: Vec<&str> = Vec::new();
            if keys.len() > 1 {
                module_args.push("2");
                for (i, key) in keys.iter().enumerate() {
                    module_args.push(key);
                    module_args.extend(&args[3 * i..3 * i + 3]);
                }
                module_args.extend(&args[3 * keys.len()..]);
            } else {
                module_args.push(keys[0]);
                module_args.extend(args);
            }
            let (mut refusals, mut admissions) = (0, 0);
            // Each call on empty keys draws again: refused with probability 0.666 or 0.5.
            for _ in 0..200 {
                let _: () = redis::cmd("DEL").arg(keys).query(&mut con).expect("DEL");
                let reply = if function {
                    let entry = if keys.len() > 1 {
                        "cl_throttleall"
                    } else {
                        "cl_throttle"
                    };
                    outcome(&mut con, &all_cmd(entry, keys, args))
                } else {
                    let command = if keys.len() > 1 {
                        "CL.THROTTLEALL"
                    } else {
                        "CL.THROTTLE"
                    };
                    outcome(&mut con, redis::cmd(command).arg(&module_args))
                };
                let reply = reply.unwrap_or_else(|e| panic!("{args:?}: {e}"));
                if reply == refused {
                    refusals += 1;
                    for key in keys {
                        assert_eq!(get(&mut con, key.as_bytes()), None, "refused: no write");
                    }
                } else {
                    assert_eq!(reply, admitted, "{args:?} (function: {function})");
                    admissions += 1;
                }
                if refusals >= 3 && admissions >= 1 {
                    break;
                }
            }
            assert!(
                refusals >= 3 && admissions >= 1,
                "{args:?} (function: {function}): {refusals} refused, {admissions} admitted"
            );
        }
    }
}
