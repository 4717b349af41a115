//! Arguments, stored values and the clock reading through the module's request pipeline
//! (`gcra_core::pipeline`, the code every command runs). Any panic or broken invariant is a
//! crash.
//!
//! Input: byte 0 picks the command (bit 0: CL.THROTTLEALL; else bit 1: CL.PEEK, else
//! CL.THROTTLE) and bit 2 whether the client may block; the rest splits on NUL into: now
//! (decimal ns), stored values (comma-separated: empty = no key, `!` = another type, else
//! the bytes stored), then the command's arguments after its name (after the key for
//! CL.THROTTLE and CL.PEEK).

#![no_main]

use gcra_core::decimal::parse_i64;
use gcra_core::modes::Mode;
use gcra_core::pipeline::{self, Command, Context, Stored, Write};
use gcra_core::Error;
use libfuzzer_sys::fuzz_target;

/// 2025-11-23, used when the input's clock field is not a usable time.
const DEFAULT_NOW: i64 = 1_763_856_000_000_000_000;

struct Given {
    now: i64,
    draw: u64,
    can_block: bool,
}

impl Context for Given {
    fn now(&mut self) -> Result<i64, Error> {
        Ok(self.now)
    }
    fn draw(&mut self) -> u64 {
        self.draw
    }
    fn can_block(&mut self) -> bool {
        self.can_block
    }
}

fn check_reply(reply: &[i64]) {
    let [limited, limit, remaining, retry, reset, ..] = *reply else {
        panic!("short reply {reply:?}");
    };
    assert!(reply.len() == 5 || reply.len() == 6, "{reply:?}");
    assert!(limited == 0 || limited == 1);
    assert!(limit >= 1 && (0..=limit).contains(&remaining), "{reply:?}");
    assert!(retry >= -1 && reset >= 0, "{reply:?}");
    assert!(limited == 1 || retry == -1, "{reply:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let command = match selector & 3 {
        1 | 3 => Command::ThrottleAll,
        2 => Command::Peek,
        _ => Command::Throttle,
    };
    let mut fields = rest.split(|&b| b == 0);
    let now = fields
        .next()
        .and_then(parse_i64)
        .filter(|now| *now >= 0)
        .unwrap_or(DEFAULT_NOW);
    let stored_field = fields.next().unwrap_or_default();
    let mut args: Vec<&[u8]> = fields.collect();
    if command != Command::ThrottleAll {
        args.insert(0, b"key");
    }
    let Ok(request) = pipeline::parse(command, &args) else {
        return;
    };
    let mut stored: Vec<Stored<'_>> = stored_field
        .split(|&b| b == b',')
        .map(|v| match v {
            b"" => Stored::Absent,
            b"!" => Stored::WrongType,
            bytes => Stored::Value(bytes),
        })
        .collect();
    // As many values as keys (missing ones absent): a caller that reads fewer is a bug.
    stored.resize(request.limits().len(), Stored::Absent);
    // SOFT's random draw, from the input so that a crash replays.
    let draw = data.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    let can_block = selector & 4 != 0;
    let mut given = Given { now, draw, can_block };
    let Ok(answer) = pipeline::decide(&request, &mut stored[..], &mut given) else {
        return;
    };
    let reply = answer.reply.as_slice();
    check_reply(reply);
    let writes = answer.writes.as_slice();
    let stores = writes.iter().any(Write::stores);
    assert!(reply[0] == 0 || !stores, "a limited call stored a TAT: {answer:?}");
    assert!(writes.is_empty() || writes.len() == request.limits().len(), "{answer:?}");
    assert_eq!(answer.charges, request.quantity() > 0 && stores);
    for write in writes {
        if let Write::Set { tat, expire_at_ms } = *write {
            let tat = i64::try_from(tat).expect("a TAT fits in 63 bits");
            assert!(tat > now, "{answer:?}");
            assert!(expire_at_ms >= tat / 1_000_000, "{answer:?}");
        }
    }
    match (command, request.mode()) {
        (Command::Peek, _) => assert!(writes.is_empty() && answer.release.is_none()),
        (_, Mode::AtMost) => {
            let granted = reply[5];
            assert!((0..=request.quantity()).contains(&granted) && (granted == 0) == (reply[0] == 1));
        }
        (_, Mode::Soft { .. }) => assert!((0..=1000).contains(&reply[5])),
        (_, Mode::Block { max_wait_ns }) => {
            if let Some(release) = &answer.release {
                assert!(can_block && release.at() > now && release.at() - now <= max_wait_ns);
                assert!(release.due_ms * 1_000_000 >= release.at() && release.delay_ms >= 0);
                // Released with the buckets as this call left them: allowed.
                let after: Vec<Vec<u8>> = writes
                    .iter()
                    .zip(&stored)
                    .map(|(write, before)| match (write, before) {
                        (Write::Set { tat, .. }, _) => tat.to_string().into_bytes(),
                        (_, Stored::Value(bytes)) => bytes.to_vec(),
                        _ => Vec::new(),
                    })
                    .collect();
                let after: Vec<Stored<'_>> = after
                    .iter()
                    .map(|bytes| if bytes.is_empty() { Stored::Absent } else { Stored::Value(bytes) })
                    .collect();
                if let Ok(due) = release.reply(&after, release.at()) {
                    assert_eq!(due.as_slice()[0], 0, "{due:?}");
                }
            }
        }
        (_, Mode::Plain) => assert!(reply.len() == 5 && answer.release.is_none()),
    }
});
