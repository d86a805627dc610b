"""Fuzz the arch parser: whatever the input, the only exception is ValueError; valid specs round-trip."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnas import zoo
from hwnas.arch import decode, decode_block, encode, encode_block, loads

TOKENS = ["ir", "ds", "dsa", "cn", "skip", "shuffle", "xception", "r1", "r2", "r0", "k3", "k5", "k4", "k0", "s1",
          "s2", "s3", "e1", "e6", "e2.5", "e0", "c16", "c0", "c24", "m83", "g2", "g3", "se0.25", "se2", "sec8", "w1",
          "w0", "w1.4", "nre", "nhs", "noskip", "d0.2", "nobias", "", "x", "-1", "e.5", "c1e3", "k99999"]
SEGMENT_ALPHABET = st.sampled_from(list("_|= .0123456789abcdefghijklmnopqrstuvwxyz") + ["act=re", "se=in", "|"])


def _parse_any(text):
    try:
        decode(text)
    except ValueError:
        pass
    try:
        decode_block(text)
    except ValueError:
        pass
    try:
        loads(text)
    except ValueError:
        pass


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120))
def test_arbitrary_text_raises_only_value_error(text):
    _parse_any(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=9))
def test_token_soup_raises_only_value_error(tokens):
    block = "_".join(tokens)
    _parse_any(block)
    _parse_any(f"act=re se=in | stem_k3_s2_c16 | {block} | head")


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(zoo.names()), st.data())
def test_mutated_zoo_strings_raise_only_value_error_or_round_trip(name, data):
    text = zoo.get(name).arch
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 6)))
    insert = data.draw(st.text(alphabet="_|=. 0123456789cekmnrsgw", max_size=4))
    mutated = text[:i] + insert + text[j:]
    try:
        spec = decode(mutated)
    except ValueError:
        return
    assert decode(encode(spec)) == spec  # anything accepted must survive a round trip


@st.composite
def blocks(draw):
    kind = draw(st.sampled_from(["ir", "ds", "cn", "skip"]))
    out = draw(st.sampled_from([8, 16, 24]))
    s = draw(st.sampled_from([1, 2]))
    if kind == "skip":
        return f"skip_s{s}_c{out}"
    k = draw(st.sampled_from([1, 3, 5, 7]))
    text = f"{kind}_r{draw(st.integers(1, 3))}_k{k}_s{s}"
    if kind == "ir":
        text += f"_e{draw(st.sampled_from(['1', '3', '6', '2.5']))}"
    elif kind == "ds":
        text += "_e1"
    text += f"_c{out}"
    if kind == "ir" and draw(st.booleans()):
        text += f"_m{draw(st.integers(8, 64))}"
    if kind != "skip" and draw(st.booleans()):
        text += f"_n{draw(st.sampled_from(['re', 'r6', 'hs', 'sw']))}"
    if kind in ("ir", "ds") and draw(st.booleans()):
        text += f"_se{draw(st.sampled_from(['0.25', '0.5']))}"
    return text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(blocks(), min_size=1, max_size=3), min_size=1, max_size=4),
       st.sampled_from(["in", "exp"]), st.sampled_from(["head", "head_c64", "head_c64_nhs_d0.2_nobias"]))
def test_generated_canonical_specs_round_trip(stages, se, head):
    text = " | ".join([f"act=re se={se}", "stem_k3_s2_c8", *(" ".join(s) for s in stages), head])
    spec = decode(text)
    assert encode(spec) == text
    assert all(encode_block(decode_block(b)) == b for s in stages for b in s)
