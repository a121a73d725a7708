(module
  ;; Logs a 4 MiB message 100 000 times. Bytes crossing the boundary are budgeted per
  ;; call (logs included), and logs past their own budget are dropped, not written.
  (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    (drop (memory.grow (i32.const 64)))
    (memory.fill (i32.const 65536) (i32.const 0x61) (i32.const 0x400000))
    (loop $again
      (call $log (i32.const 2) (i32.const 65536) (i32.const 0x400000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100000))))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
