(module
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  ;; ok(string) whose pointer lies far outside the 64 KiB memory
  (func (export "execute") (param i32 i32 i32 i32) (result i32) (call $ret (i32.const 0) (i32.const 0x7fff0000) (i32.const 16))))
