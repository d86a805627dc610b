"""The HardCoRe-NAS / timm list form: read wherever ARCH is, into the network timm's HardCoRe-NAS builder makes.

The parameter counts below were checked against timm 1.0.31's builder (``timm.models.hardcorenas.
_gen_hardcorenas`` with the same list); the hwnas models built from these strings also gave bit-identical outputs
with timm's weights copied in (a one-off check: the tests do not need timm)."""

from __future__ import annotations

import pytest

from hwnas import zoo
from hwnas.arch import encode
from hwnas.arch.listform import decode_list_form, is_list_form
from hwnas.archref import load_arch
from hwnas.cost import count_params

SEED = ("[['ds_r1_k3_s1_e1_c24_nre'], ['ir_r1_k5_s2_e3_c32_nre_se0.25', 'ir_r1_k5_s1_e6_c32_nre_se0.25'], "
        "['ir_r1_k5_s2_e6_c48_nre_se0.25', 'ir_r1_k5_s1_e6_c48_nre_se0.25', 'ir_r1_k5_s1_e6_c48_nre_se0.25', "
        "'ir_r1_k3_s1_e3_c48_nre_se0.25'], ['ir_r1_k5_s2_e6_c96_se0.25', 'ir_r1_k5_s1_e6_c96_se0.25', "
        "'ir_r1_k3_s1_e3_c96_se0.25', 'ir_r1_k3_s1_e3_c96_se0.25'], ['ir_r1_k5_s1_e6_c136_se0.25', "
        "'ir_r1_k3_s1_e6_c136_se0.25', 'ir_r1_k3_s1_e3_c136_se0.25', 'ir_r1_k5_s1_e3_c136_se0.25'], "
        "['ir_r1_k5_s2_e6_c232_se0.25', 'ir_r1_k5_s1_e6_c232_se0.25'], ['cn_r1_k1_s1_c1152']]")
"""The example of HardCoRe-NAS's README (the string its search writes)."""
TIMM_SEED_PARAMS = {1000: 7_520_192, 10: 6_252_002}  # timm's HardCoRe-NAS builder, this list

# widths timm rounds (c20 -> 24, c30 -> 32, c44 -> 48, c100 -> 104, 3.3 x 32 -> 104), e2.5 and a dsa (no residual)
ODD = ("[['ds_r1_k3_s1_e1_c20_nre'], ['ir_r1_k5_s2_e3_c30_nre', 'ir_r1_k3_s1_e2.5_c30_nre_se0.25', "
       "'dsa_r2_k3_s1_c30'], ['ir_r2_k3_s2_e3.3_c44_se0.25'], ['cn_r1_k1_s1_c100']]")
TIMM_ODD_PARAMS_10 = 219_162  # timm's HardCoRe-NAS builder, this list, 10 classes


def test_the_readme_string_builds_what_timm_builds():
    spec = load_arch(SEED).spec
    for classes, params in TIMM_SEED_PARAMS.items():
        assert count_params(spec, num_classes=classes, in_channels=3) == params
    assert encode(spec).startswith("act=hs se=exp | stem_k3_s2_c32 | ds_r1_k3_s1_e1_c24_nre | ")
    assert encode(spec).endswith("| cn_r1_k1_s1_c1152 | head_c1280")


@pytest.mark.parametrize("variant", sorted(zoo.HARDCORE_DEFS))
def test_hardcore_zoo_lists_give_the_zoo_networks(variant):
    assert load_arch(str(zoo.HARDCORE_DEFS[variant])).spec == zoo.get(f"hardcorenas_{variant}").spec


def test_widths_are_rounded_as_timm_rounds_them():
    spec = decode_list_form(ODD)
    assert count_params(spec, num_classes=10, in_channels=3) == TIMM_ODD_PARAMS_10
    outs = [b.out for stage in spec.stages for b in stage]
    assert outs == [24, 32, 32, 32, 32, 48, 48, 104]
    ir = spec.stages[2][0]
    assert ir.mid == 104  # make_divisible(32 x 3.3, 8), where round() gives 106
    from hwnas.arch import resolve_layers

    assert not any(layer.residual for layer in resolve_layers(spec) if layer.type == "dsa")  # 30 -> 30, stride 1
    # the one-line text form takes widths literally: the same blocks there keep c20, c30 and round(30 x 3.3) = 99
    literal = load_arch("act=hs se=exp | stem_k3_s2_c32 | ds_r1_k3_s1_e1_c20_nre | ir_r1_k5_s2_e3_c30_nre | "
                        "ir_r1_k3_s2_e3.3_c44 | head").spec
    assert [layer.out_ch for layer in resolve_layers(literal)] == [20, 30, 44]
    assert resolve_layers(literal)[2].mid == 99


def test_options_override_the_hardcore_conventions():
    spec = decode_list_form("act=re se=in stem=stem_k3_s2_c16 head=head [['ds_r1_k3_s1_e1_c16']]")
    assert (spec.act, spec.se_mode, spec.stem.out) == ("re", "in", 16)
    assert encode(spec).endswith("| head")


@pytest.mark.parametrize("text, message", [
    ("[['ir_r1_k4_s1_e3_c16']]", "ir_r1_k4_s1_e3_c16"),
    ("[[]]", "non-empty lists"),
    ("[['ds_r1_k3_s1_e1_c16'], 3]", "non-empty lists"),
    ("[['ds_r1_k3_s1_e1_c16'", "not a Python list"),
    ("[[__import__('os').getcwd()]]", "not a Python list"),
    ("colour=red [['ds_r1_k3_s1_e1_c16']]", "key one of act, se, stem, head"),
    ("act=re act=hs [['ds_r1_k3_s1_e1_c16']]", "given twice"),
])
def test_bad_list_forms_are_value_errors(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        decode_list_form(text)


def test_what_counts_as_the_list_form():
    assert is_list_form(SEED) and is_list_form("act=re [['ds_r1_k3_s1_e1_c16']]")
    assert not is_list_form("act=re se=in | stem_k3_s2_c16 | ds_r1_k3_s1_e1_c16 | head")
    assert not is_list_form("mobilenetv2_100")
