//! The pipeline with a fake clock, draw and client: the order of errors, what each command
//! writes and counts, and the release's reply.

use super::*;
use crate::units::{NANOS_PER_MILLI, NANOS_PER_SECOND};

const S: i64 = NANOS_PER_SECOND;
const MS: i64 = NANOS_PER_MILLI;
/// 2025-11-23T00:00:00Z.
const T0: i64 = 1_763_856_000 * S;

/// A fixed clock and draw; counts what the pipeline asked for.
struct Fake {
    now: i64,
    draw: u64,
    can_block: bool,
    asked_now: usize,
    asked_draw: usize,
    asked_block: usize,
}

impl Fake {
    fn at(now: i64) -> Fake {
        Fake {
            now,
            draw: 0,
            can_block: true,
            asked_now: 0,
            asked_draw: 0,
            asked_block: 0,
        }
    }
}

impl Context for Fake {
    fn now(&mut self) -> Result<i64, Error> {
        self.asked_now += 1;
        Ok(self.now)
    }
    fn draw(&mut self) -> u64 {
        self.asked_draw += 1;
        self.draw
    }
    fn can_block(&mut self) -> bool {
        self.asked_block += 1;
        self.can_block
    }
}

fn request(command: Command, args: &[&str]) -> Result<Request, Error> {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    parse(command, &bytes)
}

fn answer(
    command: Command,
    args: &[&str],
    stored: &[Stored<'_>],
    context: &mut Fake,
) -> Result<Answer, Error> {
    decide(&request(command, args)?, &mut stored.to_vec()[..], context)
}

/// Keys that say which were read.
struct Counted<'a> {
    values: &'a [Stored<'a>],
    read: Vec<usize>,
}

impl Keys for Counted<'_> {
    fn stored(&mut self, index: usize) -> Result<Stored<'_>, Error> {
        self.read.push(index);
        self.values.get(index).copied().ok_or(Error::Internal)
    }
}

#[test]
fn keys_are_read_in_order_and_none_after_a_bad_one() {
    let args = [
        "3", "a", "1", "1", "1", "b", "1", "1", "1", "c", "1", "1", "1",
    ];
    let request = request(Command::ThrottleAll, &args).expect("valid");
    let values = [Stored::Absent, Stored::Value(b"not a tat"), Stored::Absent];
    let mut keys = Counted {
        values: &values,
        read: Vec::new(),
    };
    let error = decide(&request, &mut keys, &mut Fake::at(T0));
    assert_eq!(error, Err(Error::CorruptState));
    assert_eq!(
        keys.read,
        [0, 1],
        "the key after the bad one is not even opened"
    );
    let good = [Stored::Absent; 3];
    let mut keys = Counted {
        values: &good,
        read: Vec::new(),
    };
    decide(&request, &mut keys, &mut Fake::at(T0)).expect("decided");
    assert_eq!(keys.read, [0, 1, 2]);
}

fn tat_bytes(tat: i64) -> Vec<u8> {
    tat.to_string().into_bytes()
}

#[test]
fn arity_errors_name_their_command() {
    assert_eq!(request(Command::Throttle, &[]), Err(Error::WrongArity));
    assert_eq!(
        request(Command::Throttle, &["k", "1", "1"]),
        Err(Error::WrongArity)
    );
    assert_eq!(
        request(Command::Peek, &["k", "1", "1"]),
        Err(Error::WrongArityPeek)
    );
    let too_many = ["k", "1", "1", "1", "1", "MS", "ATMOST", "x", "y"];
    assert_eq!(
        request(Command::Throttle, &too_many),
        Err(Error::WrongArity)
    );
    assert_eq!(
        request(Command::Peek, &too_many),
        Err(Error::WrongArityPeek)
    );
    // Past the cap, an option given twice is named, before the (bad) limit is read.
    let twice = ["k", "x", "1", "1", "1", "BLOCK", "1", "BLOCK", "2"];
    assert_eq!(
        request(Command::Throttle, &twice),
        Err(Error::RepeatedOption)
    );
    assert_eq!(
        request(Command::ThrottleAll, &[]),
        Err(Error::WrongArityAll)
    );
    assert_eq!(
        request(Command::Peek, &["k", "1", "1", "1", "1", "ATMOST"]),
        Err(Error::PeekMode)
    );
}

#[test]
fn keys_are_where_the_grammar_puts_them() {
    let one = request(Command::Throttle, &["k", "1", "1", "1"]).expect("valid");
    assert_eq!(one.key_positions().collect::<Vec<_>>(), [0]);
    let all = request(
        Command::ThrottleAll,
        &[
            "3", "a", "1", "1", "1", "b", "1", "1", "1", "c", "1", "1", "1", "2",
        ],
    )
    .expect("valid");
    assert_eq!(all.key_positions().collect::<Vec<_>>(), [1, 5, 9]);
    assert_eq!((all.limits().len(), all.quantity()), (3, 2));
}

#[test]
fn the_plain_form_writes_its_tat_and_counts_it() {
    let mut fake = Fake::at(T0);
    let allowed = answer(
        Command::Throttle,
        &["k", "15", "30", "60"],
        &[Stored::Absent],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(allowed.reply.as_slice(), [0, 16, 15, -1, 2]);
    let [Write::Set {
        tat, expire_at_ms, ..
    }] = allowed.writes.as_slice()
    else {
        panic!("{allowed:?}");
    };
    assert_eq!(*tat, (T0 + 2 * S).unsigned_abs());
    assert_eq!(*expire_at_ms, (T0 + 2 * S) / MS);
    assert_eq!(
        (allowed.tally, allowed.charges, allowed.release),
        (Tally::Allowed, true, None)
    );
    // Only the clock was read: no draw, no question about blocking on the hot path.
    assert_eq!(
        (fake.asked_now, fake.asked_draw, fake.asked_block),
        (1, 0, 0)
    );

    let full = tat_bytes(T0 + 40 * S);
    let limited = answer(
        Command::Throttle,
        &["k", "15", "30", "60"],
        &[Stored::Value(&full)],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(limited.reply.as_slice(), [1, 16, 0, 10, 40]);
    assert_eq!(limited.writes.as_slice(), [Write::Keep]);
    assert_eq!((limited.tally, limited.charges), (Tally::Limited, false));

    let refund = answer(
        Command::Throttle,
        &["k", "15", "30", "60", "-100"],
        &[Stored::Value(&full)],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(refund.writes.as_slice(), [Write::Delete]);
    assert_eq!((refund.tally, refund.charges), (Tally::Refunded, false));
}

#[test]
fn a_peek_writes_nothing_and_counts_as_a_peek() {
    let full = tat_bytes(T0 + 40 * S);
    let peek = answer(
        Command::Peek,
        &["k", "15", "30", "60"],
        &[Stored::Value(&full)],
        &mut Fake::at(T0),
    )
    .expect("decided");
    assert_eq!(peek.reply.as_slice(), [1, 16, 0, 10, 40]);
    assert_eq!(
        (peek.writes, peek.tally, peek.charges),
        (Writes::None, Tally::Peeked, false)
    );
}

#[test]
fn stored_errors_come_in_key_order_before_the_clock() {
    let args = ["2", "a", "1", "1", "1", "b", "1", "1", "1"];
    let mut fake = Fake::at(T0);
    // The first key is corrupt, the second of another type: the first one's error.
    let error = answer(
        Command::ThrottleAll,
        &args,
        &[Stored::Value(b"x"), Stored::WrongType],
        &mut fake,
    );
    assert_eq!(error, Err(Error::CorruptState));
    let error = answer(
        Command::ThrottleAll,
        &args,
        &[Stored::Absent, Stored::WrongType],
        &mut fake,
    );
    assert_eq!(error, Err(Error::WrongType));
    let error = answer(
        Command::Throttle,
        &["k", "1", "1", "1"],
        &[Stored::Value(b"-1")],
        &mut fake,
    );
    assert_eq!(error, Err(Error::CorruptState));
    assert_eq!(fake.asked_now, 0, "the clock is read after the keys");
    // A caller that read fewer keys than the request has is a bug, not a decision.
    assert_eq!(
        answer(Command::ThrottleAll, &args, &[Stored::Absent], &mut fake),
        Err(Error::Internal)
    );
}

#[test]
fn block_waits_only_where_the_client_can() {
    // One token per second, taken: the next fits a 2 s wait.
    let taken = tat_bytes(T0 + S);
    let args = ["k", "0", "1", "1", "1", "BLOCK", "2000", "MS"];
    let mut fake = Fake::at(T0 + 300 * MS + 1);
    let reserved = answer(
        Command::Throttle,
        &args,
        &[Stored::Value(&taken)],
        &mut fake,
    )
    .expect("decided");
    let release = reserved.release.clone().expect("reserved");
    assert_eq!(
        (release.at(), release.due_ms, release.delay_ms),
        (T0 + S, T0 / MS + 1000, 700)
    );
    assert_eq!(reserved.tally, Tally::Blocked);
    assert!(matches!(reserved.writes.as_slice(), [Write::Set { .. }]));
    assert_eq!(fake.asked_block, 1);

    fake.can_block = false;
    let at_once = answer(
        Command::Throttle,
        &args,
        &[Stored::Value(&taken)],
        &mut fake,
    )
    .expect("decided");
    assert_eq!((at_once.release, at_once.tally), (None, Tally::Limited));
    assert_eq!(at_once.reply.as_slice(), [1, 1, 0, 700, 700]);
    assert_eq!(at_once.writes, Writes::Many(vec![]));
}

#[test]
fn a_release_describes_the_buckets_as_stored_then() {
    // One token per 100 ms, taken; this call reserves the next (due at 100 ms).
    let taken = tat_bytes(T0 + 100 * MS);
    let args = ["k", "0", "10", "1", "1", "BLOCK", "3000", "MS"];
    let reserved = answer(
        Command::Throttle,
        &args,
        &[Stored::Value(&taken)],
        &mut Fake::at(T0),
    )
    .expect("decided");
    let release = reserved.release.expect("reserved");
    let at = T0 + 100 * MS;
    // Four more reserved behind it: the stored TAT stands at 600 ms.
    let behind = tat_bytes(T0 + 600 * MS);
    assert_eq!(
        release
            .reply(&[Stored::Value(&behind)], at)
            .expect("reply")
            .as_slice(),
        [0, 1, 0, -1, 500]
    );
    // Nothing behind it: as the reservation left the bucket.
    let own = tat_bytes(T0 + 200 * MS);
    assert_eq!(
        release
            .reply(&[Stored::Value(&own)], at)
            .expect("reply")
            .as_slice(),
        [0, 1, 0, -1, 100]
    );
    // Overwritten with garbage, or another type: as the reservation left it.
    assert_eq!(
        release
            .reply(&[Stored::Value(b"junk")], at)
            .expect("reply")
            .as_slice(),
        [0, 1, 0, -1, 100]
    );
    assert_eq!(
        release
            .reply(&[Stored::WrongType], at)
            .expect("reply")
            .as_slice(),
        [0, 1, 0, -1, 100]
    );
    // Deleted: a full bucket.
    assert_eq!(
        release
            .reply(&[Stored::Absent], at)
            .expect("reply")
            .as_slice(),
        [0, 1, 1, -1, 0]
    );
}

#[test]
fn modes_draw_only_for_soft_and_give_a_sixth_element() {
    let mut fake = Fake::at(T0);
    let at_most = answer(
        Command::Throttle,
        &["k", "4", "1", "1", "9", "ATMOST"],
        &[Stored::Absent],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(at_most.reply.as_slice(), [0, 5, 0, -1, 5, 5]);
    assert_eq!(fake.asked_draw, 0);
    // The SOFT case: limited, retry in at least one interval, suppression 666.
    let soft = answer(
        Command::Throttle,
        &["sx", "2", "1", "1", "5", "SOFT", "2"],
        &[Stored::Absent],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(soft.reply.as_slice(), [1, 3, 3, 1, 0, 666]);
    assert_eq!((fake.asked_draw, soft.charges), (1, false));
    assert_eq!(soft.writes.as_slice(), []);
}

#[test]
fn throttle_all_writes_every_key_or_none() {
    let args = ["2", "a", "0", "1", "1", "b", "5", "1", "1"];
    let mut fake = Fake::at(T0);
    let allowed = answer(
        Command::ThrottleAll,
        &args,
        &[Stored::Absent, Stored::Absent],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(allowed.writes.as_slice().len(), 2);
    assert_eq!((allowed.tally, allowed.charges), (Tally::Allowed, true));
    let a = tat_bytes(T0 + S);
    let limited = answer(
        Command::ThrottleAll,
        &args,
        &[Stored::Value(&a), Stored::Absent],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(limited.writes.as_slice(), []);
    assert_eq!(limited.reply.as_slice(), [1, 1, 0, 1, 1]);
    // The same single limit through CL.THROTTLE's plain form gives the same decision.
    let single = answer(
        Command::Throttle,
        &["a", "0", "1", "1"],
        &[Stored::Value(&a)],
        &mut fake,
    )
    .expect("decided");
    assert_eq!(single.reply.as_slice(), [1, 1, 0, 1, 1]);
}
