(module
  ;; 5 000 fills of 64 MiB: 320 GiB written, each one instruction. Bulk operations are
  ;; charged in proportion to their length, so a small CPU budget stops this.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    (drop (memory.grow (i32.const 1023)))
    (loop $again
      (memory.fill (i32.const 0) (i32.const 0) (i32.const 0x4000000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 5000))))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
