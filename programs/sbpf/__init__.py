"""The project's toolchain for on-chain programs written in C.

- `include/evch_sdk.h`: the C SDK (types, program input, syscalls, helpers);
- `build`: `build_program`, `build_all` (clang-19, then `link`), cached;
  `python -m programs.sbpf.build` builds every program;
- `link`: the post-link step, a relocatable BPF object -> a Solana SBPFv0 shared object;
- `deploy`: deployment through the BPF Upgradeable Loader (`deploy_steps`, `deploy`), and
  `load_program`, the fast path for tests; `loader_v3`: that loader's instructions.
"""
