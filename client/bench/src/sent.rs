//! The limiter calls a run made: `EVALSHA`/`EVAL`, `FCALL` and `CL.*` as INFO commandstats
//! counts them (a round trip each). The server's total_commands_processed, and CLIENT LIST's
//! tot-cmds, also count what a script calls inside, so trypema's one `EVALSHA` per request
//! shows there as about ten commands; both figures are reported.

use gcra_test_support::redis;

/// A run's commands: limiter calls sent, and every command the server ran.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub sent: Option<u64>,
    pub ran: u64,
}

/// Calls of the commands a limiter sends, so far.
pub fn limiter_calls(con: &mut redis::Connection) -> Option<u64> {
    let stats: String = redis::cmd("INFO").arg("commandstats").query(con).ok()?;
    let mut total = 0;
    for line in stats.lines() {
        let Some((name, fields)) = line
            .strip_prefix("cmdstat_")
            .and_then(|rest| rest.split_once(':'))
        else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if !(name.starts_with("eval") || name.starts_with("fcall") || name.starts_with("cl.")) {
            continue;
        }
        let calls = fields
            .split(',')
            .find_map(|field| field.strip_prefix("calls="))?;
        total += calls.parse::<u64>().ok()?;
    }
    Some(total)
}
