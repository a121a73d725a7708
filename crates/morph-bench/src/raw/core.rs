//! The Canonical ABI work of one call on a core module, for every raw core engine: what
//! `morph_runtime::protocol` does around the same exports, without its checks, budgets
//! and bookkeeping.

/// What a raw core engine offers the shared call code.
pub(crate) trait CoreExports {
    /// `cabi_realloc(0, 0, align, size)`.
    fn realloc(&mut self, align: u32, size: u32) -> Result<u32, String>;
    /// Writes `bytes` at `ptr`.
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String>;
    /// Reads `len` bytes at `ptr`.
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, String>;
    /// `execute(action_ptr, action_len, input_ptr, input_len)`; the return area.
    fn call_execute(&mut self, args: [u32; 4]) -> Result<u32, String>;
    /// `cabi_post_execute(ret)`, when the module has it.
    fn post_execute(&mut self, ret: u32) -> Result<(), String>;
    /// `describe()`; the return area.
    fn call_describe(&mut self) -> Result<u32, String>;
    /// `cabi_post_describe(ret)`, when the module has it.
    fn post_describe(&mut self, ret: u32) -> Result<(), String>;
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("no u32 at offset {at} of a {}-byte value", bytes.len()))
}

fn byte_at(bytes: &[u8], at: usize) -> Result<u8, String> {
    bytes
        .get(at)
        .copied()
        .ok_or_else(|| format!("no byte at offset {at} of a {}-byte value", bytes.len()))
}

/// The string whose (pointer, length) pair is at `at` of `record`.
fn string<G: CoreExports>(g: &mut G, record: &[u8], at: usize) -> Result<String, String> {
    let (ptr, len) = (u32_at(record, at)?, u32_at(record, at + 4)?);
    String::from_utf8(g.read(ptr, len)?).map_err(|e| format!("a string is not UTF-8: {e}"))
}

/// `execute(action, input)` as the Canonical ABI runs it.
pub(crate) fn execute<G: CoreExports>(
    g: &mut G,
    action: &str,
    input: &str,
) -> Result<String, String> {
    let a = g.realloc(1, len(action)?)?;
    g.write(a, action.as_bytes())?;
    let i = g.realloc(1, len(input)?)?;
    g.write(i, input.as_bytes())?;
    let ret = g.call_execute([a, len(action)?, i, len(input)?])?;
    // result<string, error>: the case at 0, then a string (ok) or the error record
    // (kind at 4, message at 8, details at 16).
    let area = g.read(ret, 28)?;
    let out = match byte_at(&area, 0)? {
        0 => Ok(string(g, &area, 4)?),
        _ => Err(format!("the guest failed: {}", string(g, &area, 8)?)),
    };
    g.post_execute(ret)?;
    out
}

/// `describe()`, every string copied out; the number of actions.
pub(crate) fn describe<G: CoreExports>(g: &mut G) -> Result<usize, String> {
    let ret = g.call_describe()?;
    // extension-info: four strings, the actions and events lists, option<string>.
    let info = g.read(ret, 60)?;
    for at in [0, 8, 16, 24] {
        string(g, &info, at)?;
    }
    let (actions, n_actions) = (u32_at(&info, 32)?, u32_at(&info, 36)?);
    let table = g.read(actions, n_actions.saturating_mul(36))?;
    for a in 0..n_actions as usize {
        for at in [0, 8, 16, 24] {
            string(g, &table, a * 36 + at)?;
        }
        byte_at(&table, a * 36 + 32)?;
    }
    let (events, n_events) = (u32_at(&info, 40)?, u32_at(&info, 44)?);
    let table = g.read(events, n_events.saturating_mul(24))?;
    for e in 0..n_events as usize {
        for at in [0, 8, 16] {
            string(g, &table, e * 24 + at)?;
        }
    }
    if byte_at(&info, 48)? == 1 {
        string(g, &info, 52)?;
    }
    g.post_describe(ret)?;
    Ok(n_actions as usize)
}

fn len(s: &str) -> Result<u32, String> {
    u32::try_from(s.len()).map_err(|_| "a string over 4 GiB".to_owned())
}

/// The flat signature of `kv.get`'s answer "no such key": `result<option<..>>` ok (0 at
/// the return area) and `none` (0 at offset 4).
pub(crate) const KV_MISS: [u8; 8] = [0; 8];
