(module
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func $rec (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (drop (call $rec (i32.const 0)))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
