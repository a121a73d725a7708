(module
  ;; 100 cheap host calls made directly and 100 through a table: each costs the CPU
  ;; budget `HOST_CALL_FUEL` units on top of its instructions, on every backend, under
  ;; native fuel and under deterministic metering alike (where the module's own counter
  ;; is charged by a wrapper that every reference to an import goes through, so a call
  ;; through a table pays too).
  (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (type $log_t (func (param i32 i32 i32)))
  (table 1 funcref)
  (elem (i32.const 0) func $log)
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    (loop $again
      (call $log (i32.const 0) (i32.const 1024) (i32.const 1))
      (call_indirect (type $log_t) (i32.const 0) (i32.const 1024) (i32.const 1) (i32.const 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
