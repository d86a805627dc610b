"""The machinery the search methods share (:mod:`hwnas.search.methods` holds one module per method).

- :mod:`.engine`: weight steps with the non-finite policy, epochs over a batch source, the resumable search state;
- :mod:`.arch_params`: architecture logits per decision and the Gumbel-softmax (FBNet, TF-NAS);
- :mod:`.dnas`: what FBNet and TF-NAS share around a differentiable search (theta steps, checkpoints, the result);
- :mod:`.objectives`: the latency terms and loss forms of the differentiable methods;
- :mod:`.width_scaling`: TF-NAS elasticity scaling of widths towards a latency target;
- :mod:`.oneshot`: train a single-path supernet, then score candidates (SPOS, random), save and reload it;
- :mod:`.path_sampling`: uniform, channel-warm-up and feasible path sampling for one-shot training;
- :mod:`.evolution`: the evolutionary and random ask/tell strategies;
- :mod:`.bcfw`: Block-Coordinate Frank-Wolfe over op and depth distributions (HardCoRe-NAS);
- :mod:`.projection`: the most preferred architecture inside every budget;
- :mod:`.zero_cost`: training-free scores of an architecture (NASWOT).
"""
