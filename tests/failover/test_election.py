"""The election (failover.election), and one table of election cases run through both
front-ends: the Pacemaker agent and the ucarp hooks gather their inputs differently
(attrd texts; authenticated network answers) and name their settings differently, and
must decide alike."""
from __future__ import annotations

import pytest

from failover import election
from failover.election import Rules, Words
from failover.mark import NOTHING, Freshness, parse_all, raises
from failover.promote import REFUSAL_KINDS

F = Freshness


def score(*args, **kwargs):
    return election.rank(*args, **kwargs)[0]


def test_freshest_ranks_best_and_peers_rank_by_versions_above_tolerance():
    peers = {"n2": F(5000, 7), "n3": F(9000, 7)}
    assert score(F(9000, 7), False, None, peers, False, False) == 1000
    assert score(F(8950, 7), False, None, peers, False, False) == 1000  # within tolerance
    assert score(F(8500, 7), False, None, peers, False, False) == 900
    assert score(F(4000, 7), False, None, peers, False, False) == 800
    assert score(F(4950, 7), False, None, peers, False, False) == 900


def test_no_score_below_high_water_mark_unless_data_loss_allowed():
    assert score(F(10, 7), False, F(20, 7), {}, False, False) is None
    assert score(F(10, 7), False, F(20, 7), {}, True, False) == 1


def test_no_score_for_another_file_system_or_no_metadata():
    assert score(F(50, 8), False, F(20, 7), {}, False, False) is None
    assert score(None, False, None, {}, False, True) is None
    assert score(None, True, None, {}, False, False) is None
    assert score(None, True, None, {}, False, True) == 1  # bootstrap of a new cluster
    assert score(None, True, F(20, 7), {}, False, True) is None
    assert score(None, True, None, {"n2": F(3, 0)}, False, True) is None
    assert score(None, True, None, {"n2": NOTHING}, False, True) == 1


def test_a_node_that_refused_to_promote_yields_until_it_catches_up():
    assert score(F(844, 7), False, None, {}, False, False, yielding=846) == 1
    assert score(F(846, 7), False, None, {}, False, False, yielding=846) == 1000


def test_lag_text_in_coarse_steps():
    assert election.lag_text(80, 500) == "none"
    assert election.lag_text(550, 30) == "under 1000 changes, under 60 s"
    assert election.lag_text(250000) == "100000 changes or more"
    assert election.lag_text(5000, 7200) == "under 10000 changes, an hour or more"


def test_judge_explains_each_step_and_the_first_refusal():
    hwm = F(500, 7, "n3")
    words = Words("set allow_data_loss=true", "set allow_new_filesystem=true",
                  "record the last master with --name mfsha-p-hwm")
    strict, loose = Rules(False, False, words), Rules(True, False, words)
    ok = election.judge(F(520, 7), "restorable", "", "/d", hwm, {"n2": F(400, 7)}, strict)
    assert ok.promotable and ok.steps == [
        "metadata here: restores to version 520", "no peer holds fresher metadata (n2 400)",
        "high-water mark: version 500 by n3, reached here", "may be promoted"]
    stale = election.judge(F(450, 7), "restorable", "", "/d", hwm, {}, strict)
    assert not stale.promotable and "below the version 500" in stale.refusal
    assert stale.steps[-1] == "no peer holds fresher metadata (no peers)"
    behind = election.judge(F(450, 7), "restorable", "", "/d", hwm, {"n2": F(600, 7)}, strict)
    assert (behind.fresher_node, behind.fresher_version) == ("n2", 600)
    assert behind.refusal.startswith("node n2 holds fresher metadata (version 600, here 450)")
    undecided = election.judge(None, "undecided", "both kinds", "/d", None, {"n2": F(600, 7)},
                               strict)
    assert undecided.fresher_node == "" and "--name mfsha-p-hwm" in undecided.refusal
    forced = election.judge(F(450, 7), "restorable", "", "/d", hwm, {"n2": F(600, 7)}, loose)
    assert forced.promotable


# --- one table, both front-ends ------------------------------------------------------------
# own: (version, metaid) or None with the inspection's verdict; mark: (version, metaid)
# or None; peers: {node: (version, metaid, role)}; loss/new: the two overrides;
# refusal: a fragment of the refusal, "" when the node may be promoted.
CASES = [
    ("the freshest node", (500, 7), "restorable", (480, 7), {"b": (500, 7, "ml")}, False, False, ""),
    ("a fresher peer", (500, 7), "restorable", None, {"c": (501, 7, "ml")}, False, False,
     "node c holds fresher metadata (version 501, here 500)"),
    ("a fresher peer, forced", (500, 7), "restorable", None, {"c": (501, 7, "ml")}, True, False, ""),
    ("a peer of another file system", (500, 7), "restorable", None, {"c": (900, 8, "ml")},
     False, False, ""),
    ("below the mark", (500, 7), "restorable", (600, 7), {}, False, False,
     "below the version 600"),
    ("below the mark, forced", (500, 7), "restorable", (600, 7), {}, True, False, ""),
    ("another file system than the mark's", (700, 8), "restorable", (600, 7), {}, False, False,
     "belongs to file system 0000000000000008"),
    ("a peer runs a master", (500, 7), "restorable", None, {"b": (10, 7, "master")}, False,
     False, "peer b already runs mfsmaster"),
    ("unrestorable files", None, "no-image", None, {"b": (500, 7, "ml")}, False, False,
     "cannot be restored: only incomplete image(s)"),
    ("empty, a new cluster", None, "empty", None, {"b": (0, 0, "ml")}, False, True, ""),
    ("empty, not allowed", None, "empty", None, {}, False, False, "to create a new file system"),
    ("empty while a peer has metadata", None, "empty", None, {"b": (3, 7, "ml")}, False, True,
     "node b holds fresher"),
    ("empty below a mark", None, "empty", (3, 7), {}, False, True, "below the version 3"),
]


def pacemaker_decides(own, verdict, mark, peers, loss, new):
    """As the agent does: peers from their attrd texts (mfsha.store), its own words."""
    from mfsha.agent import rules
    texts = {n: Freshness(v, m).text() for n, (v, m, _) in peers.items()}

    class Ctx:
        class params:
            boolean = staticmethod({"allow_data_loss": loss, "allow_new_filesystem": new}.get)

        class env:
            resource_name = "p"
    masters = [n for n, (_, _, role) in peers.items() if role == "master"]
    return election.judge(own, verdict, "only incomplete image(s)", "/d", mark,
                          parse_all(texts), rules(Ctx), masters)


def ucarp_decides(own, verdict, mark, peers, loss, new):
    """As the ucarp hooks do: peers from their answers (ucarp.hooks.UcarpCluster)."""
    from ucarp.freshness import Answer
    from ucarp.hooks import WORDS, UcarpCluster

    class Hooks:
        class mark:
            me = "10.0.0.1"
    cluster = UcarpCluster(Hooks)
    cluster.answers = {n: Answer(v, m, "master" if role == "master" else "metalogger", 0)
                       for n, (v, m, role) in peers.items()}
    cluster.answers["silent"] = None
    found, masters = cluster.peers(own)
    return election.judge(own, verdict, "only incomplete image(s)", "/d", mark, found,
                          Rules(loss, new, WORDS), masters)


@pytest.mark.parametrize("front_end", [pacemaker_decides, ucarp_decides],
                         ids=["pacemaker", "ucarp"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_both_front_ends_decide_alike(front_end, case):
    _, own, verdict, mark, peers, loss, new, refusal = case
    verdict_of = front_end(F(*own) if own else None, verdict, F(*mark) if mark else None,
                           peers, loss, new)
    if refusal:
        assert refusal in verdict_of.refusal
        assert verdict_of.kind in REFUSAL_KINDS  # a label for mfsha metrics
    else:
        assert verdict_of.promotable, verdict_of.refusal


def test_the_refusal_names_each_front_ends_setting():
    mark = F(600, 7)
    assert "set allow_data_loss=true" in pacemaker_decides(F(500, 7), "restorable", mark, {},
                                                           False, False).refusal
    assert "set ALLOW_DATA_LOSS = 1" in ucarp_decides(F(500, 7), "restorable", mark, {},
                                                      False, False).refusal


# --- the mark's one raise rule ---------------------------------------------------------------
def test_a_mark_rises_only_within_one_file_system():
    assert raises(None, F(5, 7))
    assert raises(F(5, 7), F(6, 7)) and not raises(F(6, 7), F(6, 7))
    assert not raises(F(6, 7), F(900, 8))  # another file system's version says nothing
    assert raises(F(6, 0), F(6, 7))        # names the file system left unknown
    assert raises(F(6, 7), F(9, 0))         # an unknown id is no other file system


def test_the_mark_text_round_trips():
    for text in ("5:0000000000000007", "5:0000000000000007:n1:ab", "5:0000000000000007:n1:"):
        assert F.parse(text).text() == text
    assert F.parse("garbage") is None and F.parse("x:y") is None


def test_the_numeric_lag_is_as_coarse_as_its_words():
    from failover.election import lag_floor
    assert [lag_floor(n) for n in (0, 100, 101, 999, 1000, 54321, 10**7)] == \
        [0, 0, 100, 100, 1000, 10000, 100000]
