//! The Canonical ABI over arbitrary guest memory: `describe` and `execute` answers lifted
//! from any pointer into any memory, host calls lifted from any flat arguments, host
//! answers lowered through any allocator pointers. The shared protocol
//! (`morph_runtime::protocol`) drives a fake guest ([`FakeGuest`]) whose memory, return
//! pointers, allocations and host calls all come from the input. Everything must end in
//! a value or a typed error: no panic, no `engine` error (the harness always passes the
//! right number of arguments), and the protocol never waits (the handler answers at
//! once).

use arbitrary::{Result as AResult, Unstructured};
use morph_abi::{Header, HostError, HostErrorKind, HttpResponse};
use morph_runtime::protocol::{self, Export, GuestAccess, GuestCalls};
use morph_runtime::{
    Blocking, CallContext, ExecuteCall, Grants, GuestMemory, HostCall, HostContext, HostFunc,
    HostReply, IMPORTS, InstanceConfig, Limits, ModuleInfo, SyncHostHandler, Usage, check_range,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A guest whose every move comes from the fuzz input.
pub struct FakeGuest {
    memory: Vec<u8>,
    host: HostContext,
    info: ModuleInfo,
    /// What `describe` and `execute` return.
    ret: u32,
    /// What `cabi_realloc` returns, in turn; `None` entries trap it.
    allocs: VecDeque<Option<u32>>,
    /// The host calls `execute` makes before it returns.
    calls: Vec<(HostFunc, Vec<u32>)>,
}

impl GuestMemory for FakeGuest {
    fn read(&mut self, ptr: u32, buf: &mut [u8]) -> morph_runtime::Result<()> {
        let r = check_range(ptr, buf.len(), self.memory.len())?;
        buf.copy_from_slice(&self.memory[r]);
        Ok(())
    }
    fn write(&mut self, ptr: u32, data: &[u8]) -> morph_runtime::Result<()> {
        let r = check_range(ptr, data.len(), self.memory.len())?;
        self.memory[r].copy_from_slice(data);
        Ok(())
    }
    fn size(&mut self) -> u64 {
        self.memory.len() as u64
    }
}

impl GuestAccess for FakeGuest {
    fn host(&mut self) -> &mut HostContext {
        &mut self.host
    }
    async fn alloc(&mut self, _align: u32, _size: u32) -> morph_runtime::Result<u32> {
        match self.allocs.pop_front() {
            Some(Some(p)) => Ok(p),
            // A guest whose allocator traps, or ran out of answers.
            _ => Err(morph_runtime::Error::trap(
                morph_runtime::TrapKind::Unreachable,
            )),
        }
    }
    fn burn(&mut self, _units: u64) -> morph_runtime::Result<()> {
        Ok(())
    }
}

impl GuestCalls for FakeGuest {
    fn backend(&self) -> &'static str {
        "fuzz"
    }
    fn module(&self) -> &ModuleInfo {
        &self.info
    }
    fn arm(&mut self) -> morph_runtime::Result<()> {
        Ok(())
    }
    async fn enter(&mut self, export: Export, _args: &[u32]) -> morph_runtime::Result<u32> {
        if export == Export::Execute {
            for (func, args) in std::mem::take(&mut self.calls) {
                protocol::serve(self, func, &args).await?;
            }
        }
        Ok(self.ret)
    }
    fn usage(&self) -> Usage {
        self.host.usage(0, self.memory.len() as u64)
    }
}

/// Answers from the input, in turn.
struct Replies(Mutex<VecDeque<Result<HostReply, HostError>>>);

impl SyncHostHandler for Replies {
    fn handle(&self, _cx: &CallContext, _call: HostCall) -> Result<HostReply, HostError> {
        let next = self.0.lock().ok().and_then(|mut q| q.pop_front());
        next.unwrap_or_else(|| Err(HostError::new(HostErrorKind::Unavailable, "no more")))
    }
}

/// A `u32` that is often a pointer into a memory of `len` bytes, or a small length.
fn smart_u32(u: &mut Unstructured<'_>, len: usize) -> AResult<u32> {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    Ok(match u.int_in_range(0..=7u8)? {
        0..=2 => u.int_in_range(0..=len.saturating_add(8))?,
        3 => u.int_in_range(0..=len.saturating_add(8))? & !3,
        4 => u.int_in_range(0..=64)?,
        5 => u32::MAX - u.int_in_range(0..=16)?,
        _ => u.arbitrary()?,
    })
}

fn smart_text(u: &mut Unstructured<'_>) -> AResult<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => String::new(),
        1 => "{}".to_owned(),
        _ => u.arbitrary()?,
    })
}

fn reply(u: &mut Unstructured<'_>) -> AResult<Result<HostReply, HostError>> {
    let bytes = |u: &mut Unstructured<'_>| -> AResult<Vec<u8>> {
        let n = u.int_in_range(0..=64usize)?;
        u.bytes(n).map(<[u8]>::to_vec)
    };
    Ok(Ok(match u.int_in_range(0..=9u8)? {
        0 => HostReply::Done,
        1 => HostReply::Value(if u.arbitrary()? {
            Some(bytes(u)?)
        } else {
            None
        }),
        2 => HostReply::Deleted(u.arbitrary()?),
        3 => HostReply::Keys(
            (0..u.int_in_range(0..=4)?)
                .map(|_| smart_text(u))
                .collect::<AResult<_>>()?,
        ),
        4 => HostReply::Config(smart_text(u)?),
        5 => HostReply::Now(u.arbitrary()?),
        6 => HostReply::Bytes(bytes(u)?),
        7 => HostReply::Http(HttpResponse {
            status: u.arbitrary()?,
            headers: (0..u.int_in_range(0..=3)?)
                .map(|_| {
                    Ok(Header {
                        name: smart_text(u)?,
                        value: smart_text(u)?,
                    })
                })
                .collect::<AResult<_>>()?,
            body: bytes(u)?,
        }),
        _ => {
            return Ok(Err(HostError::new(
                HostErrorKind::Unavailable,
                smart_text(u)?,
            )));
        }
    }))
}

/// Writes at `at` (when it fits) a valid description, or a valid `result<string, _>` whose
/// string lies after it.
fn plant(u: &mut Unstructured<'_>, memory: &mut [u8], at: u32) -> AResult<()> {
    let value = if u.arbitrary()? {
        let actions: Vec<String> = (0..u.int_in_range(0..=3)?)
            .map(|i| format!("a{i}"))
            .collect();
        crate::wrap::describe_blob(at, &actions)
    } else {
        let text = smart_text(u)?;
        let mut v = vec![u.int_in_range(0..=1u8)?, 0, 0, 0];
        v.extend_from_slice(&at.saturating_add(12).to_le_bytes());
        v.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_le_bytes());
        v.extend_from_slice(text.as_bytes());
        v
    };
    let start = at as usize;
    if let Some(slot) = memory.get_mut(start..start.saturating_add(value.len())) {
        slot.copy_from_slice(&value);
    }
    Ok(())
}

/// What a case does.
enum Op {
    Describe,
    Execute { action: String, input: String },
}

/// Builds the case of `data`: the guest, its limits and handler, and what to call.
fn build(u: &mut Unstructured<'_>) -> AResult<(FakeGuest, Op)> {
    let len = match u.int_in_range(0..=9u8)? {
        0 => 0,
        1 => 65536,
        _ => u.int_in_range(0..=2048usize)?,
    };
    let mut memory = Vec::with_capacity(len.saturating_add(4));
    while memory.len() < len {
        match u.int_in_range(0..=5u8)? {
            0..=2 => memory.extend_from_slice(&smart_u32(u, len)?.to_le_bytes()),
            3 => {
                let n = u.int_in_range(0..=16usize)?;
                memory.extend_from_slice(u.bytes(n)?);
            }
            4 => memory.extend_from_slice(b"{}http://a.example/k\xff\x00"),
            _ => memory.extend_from_slice(&[0; 4]),
        }
        if u.is_empty() {
            break;
        }
    }
    memory.resize(len, 0);
    // Valid values planted at `ret`, then a few bytes flipped: lifting gets past the
    // first checks and into the fields.
    let ret = smart_u32(u, len)? & !7;
    if u.ratio(2, 3)? {
        plant(u, &mut memory, ret)?;
    }
    for _ in 0..u.int_in_range(0..=3)? {
        if !memory.is_empty() {
            let i = u.choose_index(memory.len())?;
            memory[i] ^= u.arbitrary::<u8>()?;
        }
    }
    let limits = Limits {
        max_output_bytes: u.int_in_range(0..=4096)?,
        max_transfer_bytes: u.int_in_range(0..=8192)?,
        max_host_calls: u.int_in_range(0..=8)?,
        max_log_bytes: u.int_in_range(0..=256)?,
        ..Limits::default()
    };
    let replies: VecDeque<_> = (0..u.int_in_range(0..=6)?)
        .map(|_| reply(u))
        .collect::<AResult<_>>()?;
    let granted: &[&str] = match u.arbitrary::<bool>()? {
        true => &[
            "clock",
            "random",
            "config",
            "kv-read",
            "kv-write",
            "http:GET https://a.example",
        ],
        false => &[],
    };
    let policy = Grants::parse(granted).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let config = InstanceConfig::new("fuzz", limits)
        .handler(Arc::new(Blocking(Replies(Mutex::new(replies)))))
        .policy(Arc::new(policy));
    // The allocator mostly answers room at the end of memory, where nothing was planted.
    let top = u32::try_from(len).unwrap_or(u32::MAX);
    let allocs = (0..u.int_in_range(2..=8)?)
        .map(|_| {
            Ok(match u.int_in_range(0..=7u8)? {
                0 => None,
                1 | 2 => Some(smart_u32(u, len)?),
                _ => Some(top.saturating_sub(u.int_in_range(0..=256u32)?) & !7),
            })
        })
        .collect::<AResult<_>>()?;
    let mut calls = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let spec = u.choose(IMPORTS)?;
        let args = (0..spec.params)
            .map(|_| smart_u32(u, len))
            .collect::<AResult<Vec<_>>>()?;
        calls.push((spec.func, args));
    }
    let op = match u.arbitrary::<bool>()? {
        true => Op::Describe,
        false => Op::Execute {
            action: smart_text(u)?,
            input: smart_text(u)?,
        },
    };
    let info = ModuleInfo {
        contract: morph_abi::CONTRACT_VERSION.to_owned(),
        size: 0,
        memory_min_bytes: 0,
        table_min_bytes: 0,
        has_post_describe: u.arbitrary()?,
        has_post_execute: u.arbitrary()?,
        has_start: false,
        metered: None,
        meter_trap_func: 0,
    };
    let guest = FakeGuest {
        memory,
        host: HostContext::new(config),
        info,
        ret,
        allocs,
        calls,
    };
    Ok((guest, op))
}

/// Runs the case of `data`.
///
/// # Errors
/// A sentence when the protocol broke its promise: an `engine` error, or a future that
/// waited. (A panic is a failure too; the caller catches it.)
pub fn run(data: &[u8]) -> Result<(), String> {
    outcome(data).map(drop)
}

/// [`run`], returning what the call came to: `describe ok`, `execute bad-guest-data`,
/// ... (`None` when the input makes no case), for the bounded run's statistics.
///
/// # Errors
/// As [`run`].
pub fn outcome(data: &[u8]) -> Result<Option<String>, String> {
    let mut u = Unstructured::new(data);
    let Ok((mut guest, op)) = build(&mut u) else {
        return Ok(None);
    };
    let (name, result) = match &op {
        Op::Describe => (
            "describe",
            protocol::now(protocol::describe(&mut guest)).map(|r| r.map(drop)),
        ),
        Op::Execute { action, input } => {
            let call = ExecuteCall {
                action,
                input,
                side_effect: morph_abi::SideEffect::None,
            };
            (
                "execute",
                protocol::now(protocol::execute(&mut guest, call)).map(|r| r.map(drop)),
            )
        }
    };
    match result {
        None => Err("the protocol waited although the handler answers at once".into()),
        Some(Err(e)) if e.class() == "engine" => Err(format!("an engine error: {e}")),
        Some(Err(e)) => Ok(Some(format!("{name} {}", e.detail()))),
        Some(Ok(())) => Ok(Some(format!("{name} ok"))),
    }
}
