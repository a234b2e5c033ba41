"""The command line's shell: one click group, each command's docstring as its help, clear exits."""
from __future__ import annotations

import inspect

import pytest

from core.records import GateVerdict, LookResult, SearchOptions
from lookbot.cli import cli, main
from lookbot.common import look_text, whose_text
from tests.helpers import FIXTURES


def test_every_command_has_its_docstring_as_help(capsys):
    for name, command in cli.commands.items():
        doc = inspect.getdoc(command.callback)
        assert doc, f"lookbot {name} has no docstring"
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert doc.splitlines()[0] in " ".join(out.split()), name


def test_the_former_module_entry_points_are_commands():
    assert {"refresh", "train-embedding", "bench-head", "measurements"} <= set(cli.commands)


@pytest.mark.parametrize("argv, words", [
    (["look", "--gender", "robots"], "'robots' is not one of 'auto', 'men', 'women', 'any', 'kids'"),
    (["train-detector", "--no-early-stop"], "No such option '--no-early-stop'"),
    (["no-such-command"], "No such command 'no-such-command'"),
    # checked before any photo is looked at: a batch never dies half-way on its options
    (["look", "--draw", "out.txt"], "out.txt has no image suffix"),
    (["look", "--k", "0"], "0 is not in the range x>=1"),
    (["eval", "--parts", "gate,bogus"], "bogus is not one of gate, detector, catalog, street"),
    (["similar", "--category", "topwear", "--budget", "-5", "x.jpg"], "-5 is not in the range x>=1"),
    # one article alone has no wearer to read a gender from
    (["similar", "--category", "topwear", "--gender", "auto", "x.jpg"],
     "'auto' is not one of 'any', 'men', 'women', 'kids'"),
    (["serve", "--replicas", "0"], "0 is not in the range x>=1"),
    (["serve", "--min-replicas", "3", "--max-replicas", "1"],
     "--max-replicas 1 is below --min-replicas 3"),
])
def test_a_usage_error_exits_2_with_a_message(capsys, argv, words):
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_a_missing_report_is_one_clear_line(tmp_path, capsys):
    assert main(["measurements", str(tmp_path / "eval.json"), "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lookbot: ") and "eval.json" in err and "Traceback" not in err


def test_a_report_that_is_not_json_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 not json")
    assert main(["measurements", str(tmp_path / "photo.jpg"), "-"]) == 2
    err = capsys.readouterr().err
    assert "is not a JSON report" in err and "Traceback" not in err



@pytest.mark.slow
def test_look_text_says_whose_picks_and_what_a_budget_could_not_check(engine):
    data = (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes()
    inferred = engine.look(data, options=SearchOptions(k=2, budget=900))
    assert inferred.articles and inferred.gender_source == "photo"
    lines = look_text("0032.jpg", inferred, budget=900).splitlines()
    assert lines[1].startswith("  picks: ") and lines[1].endswith("from the photo)")
    # the demo catalog lists no prices: the budget could check none of them, and says so once
    shown = sum(len(a.products) for a in inferred.articles)
    assert lines[-1] == (f"  note: {shown} of these {shown} products list no price, so they were "
                         f"not checked against the 900 rupee budget")
    chosen = look_text("0032.jpg", engine.look(data, options=SearchOptions(k=2, gender="men")))
    assert chosen.splitlines()[1] == "  picks: men's (as chosen with --gender)"
    assert "note:" not in chosen



@pytest.mark.parametrize("gender, source, wearer, words", [
    ("women", "photo", {"gender": "women", "p_women": 0.93}, "women's (the wearer's, from the photo)"),
    ("women", "photo", {"gender": "unsure", "p_women": 0.3},
     "unisex first, then women's (not sure whose; choose with --gender)"),
    ("any", "none", None, "men's, women's and unisex (the wearer was not read; choose with --gender)"),
    ("kids", "you", None, "kids' (as chosen with --gender)"),
])
def test_whose_picks_in_words(gender, source, wearer, words):
    result = LookResult("p.jpg", GateVerdict(True, "ok", ""), gender=gender, gender_source=source,
                        wearer=wearer)
    assert whose_text(result) == words


def test_no_catalog_says_what_to_run_and_creates_nothing(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LOOKBOT_DATA_DIR", str(data_dir))
    assert main(["look"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"lookbot: no catalog and no index in {data_dir}: run `lookbot build-demo` (or "
        f"`lookbot crawl`), then `lookbot index`")
    assert not data_dir.exists()  # not an empty catalog.db that later commands would take
    data_dir.mkdir()
    (data_dir / "catalog.db").touch()
    assert main(["similar", "--category", "topwear", "x.jpg"]) == 2
    assert "run `lookbot index` first" in capsys.readouterr().err


def test_serve_says_in_one_line_why_it_cannot_start_before_starting_ray(tmp_path, monkeypatch,
                                                                         capsys):
    import os
    import socket

    assert main(["serve", "--replicas", str((os.cpu_count() or 1) + 1)]) == 2
    err = capsys.readouterr().err  # Serve would have waited for the CPUs forever, silently
    assert err.startswith("lookbot: ") and "CPUs and this machine has" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
    monkeypatch.setenv("LOOKBOT_DATA_DIR", str(tmp_path / "empty"))
    assert main(["serve"]) == 2
    assert "no catalog and no index" in capsys.readouterr().err
    import ray

    assert not ray.is_initialized()  # refused before any Ray started
