// An example of a user's model file that adds invariants (no versions or pairs needed):
// `svmfuzz check --models models/examples/invariants.js --version v6.14 --invariants reach-shutdown --runs 20000`
// checks v6.14 against it; `svmfuzz list --models models/examples/invariants.js` shows it
// next to the built-in ones, and `v6.14!all` then checks it with them.
//
// An invariant is an object with an id (lower-case letters, digits, '-'), a doc line, its
// source (the APM section, ABI document or kernel function whose contract it states) and
// check(state, event): called after every step that ran, with the vCPU state after the
// step (its step log in `state.log`) and the event; it returns null, or a message saying
// what broke the rule. Violations are bucketed, minimized and triaged by message shape
// (numbers taken out), like the built-in ones. Keep checks fast and free of side effects:
// they run on every step of a checked version.

import { defineInvariant } from 'svmfuzz/models';

// A target rather than a rule: "show me a stream that makes KVM_RUN return
// KVM_EXIT_SHUTDOWN" (a triple fault nobody intercepts). Fuzzing against a target is how
// one asks for the shortest way to a state: the minimized reproducers are those ways.
export const reachShutdown = defineInvariant({
  id: 'reach-shutdown',
  doc: 'a target: KVM_RUN never returns KVM_EXIT_SHUTDOWN (a violation is a stream that reaches it)',
  source: 'KVM API (Documentation/virt/kvm/api.rst, KVM_EXIT_SHUTDOWN); kvm_vcpu_ioctl_run',
  check: (v) => (v.log.userspaceExit === 'SHUTDOWN' ? 'KVM_RUN ended with KVM_EXIT_SHUTDOWN' : null),
});

export const invariants = [reachShutdown];
