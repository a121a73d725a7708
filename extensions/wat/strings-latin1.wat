(module
  ;; Carries the contract's world as wit-bindgen would embed it, but declaring latin1
  ;; strings. The host never trusts a guest's description of its own world: every backend
  ;; reads the answer's bytes as UTF-8, the contract's encoding, and prints "é".
  ;; @morph-strings latin1
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  ;; The JSON string "é", in UTF-8: 22 c3 a9 22.
  (data (i32.const 1100) "\22\c3\a9\22")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1100) (i32.const 4))))
