"""Prompts files become validated rows, rows become jobs with stable, distinct output names."""

from __future__ import annotations

import pytest

from clipdraw.batch.rows import (
    expand_jobs,
    output_stem,
    parse_rows,
    parse_size,
    read_rows,
    settings_hash,
    slugify,
)
from clipdraw.settings import DrawSettings


def test_slugify_makes_short_lowercase_ascii_names():
    assert slugify("A Café, at night!") == "a-cafe-at-night"
    assert slugify("   ***   ") == "drawing"
    assert len(slugify("word " * 50)) <= 60
    assert not slugify("word " * 50).endswith("-")


def test_output_stem_is_slug_plus_seed():
    assert output_stem("A red cat", 3) == "a-red-cat_seed3"


def test_text_file_gives_one_row_per_prompt_skipping_blanks_and_comments(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("a red cat\n\n# a comment\n  a blue | dog  \n", encoding="utf-8")
    rows = read_rows(path)
    assert [row.number for row in rows] == [1, 4]
    assert rows[1].settings.prompts == ("a blue | dog",)
    assert all(row.ok for row in rows)


def test_jsonl_rows_set_per_row_settings(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        '{"prompt": "a cat", "seed": 7, "paths": 16, "iterations": 5, "size": "48x32",'
        ' "shape": "blobs", "negatives": ["blurry"]}\n"a dog"\n',
        encoding="utf-8",
    )
    first, second = read_rows(path)
    s = first.settings
    assert (s.seed, s.paths, s.iterations, s.width, s.height, s.shape) == (7, 16, 5, 48, 32,
                                                                             "blobs")
    assert s.negatives == ("blurry",)
    assert second.settings.prompts == ("a dog",)


def test_csv_rows_convert_strings_and_split_lists(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text(
        "prompt,seed,paths,size,negatives,num_augs\n"
        "a cat,3,8,40,blurry|ugly,2\n"
        "a dog,,,,,\n",
        encoding="utf-8",
    )
    first, second = read_rows(path, DrawSettings(paths=99))
    assert (first.settings.seed, first.settings.paths, first.settings.width) == (3, 8, 40)
    assert first.settings.negatives == ("blurry", "ugly")
    assert first.settings.num_augs == 2
    assert second.settings.paths == 99  # empty cells keep the base value


def test_csv_without_prompt_column_is_a_file_error(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text("text_prompt,seed\na cat,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="prompt"):
        read_rows(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "a cat", "iterations": 0}', "iterations: must be at least 1"),
        ('{"prompt": "a cat", "seed": NaN}', "seed: expected a finite number"),
        ('{"prompt": "a cat", "seed": Infinity}', "seed: expected a finite number"),
        ('{"prompt": "a cat", "seed": [1]}', "seed: expected an integer"),
        ('{"prompt": "a cat", "seed": {}}', "seed: expected an integer"),
        ('{"prompt": "a cat", "seed": true}', "seed: expected an integer"),
        ('{"prompt": "a \\ud800 cat"}', "not valid Unicode"),
        ('{"prompt": ["a", 3]}', "expected text"),
        ('{"prompt": "a cat", "paths": 1e12}', "paths: must be at most"),
        ('{"prompt": "a cat", "size": [1e9, 2]}', "size"),
        ('{"prompt": "a cat", "negatives": "x::nan"}', "finite number"),
        ('{"prompt": "a cat", "background": {"r": 1}}', "background"),
        ('{"prompt": "a cat", "point_lr_schedule": [[2, 1]]}', "point_lr_schedule"),
        ('{"prompt": "a cat", "prompt_weights": ["x"]}', "prompt_weights"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deep"),
        ('{"prompt": "a cat", "itertions": 3}', "unknown column"),
        ('{"prompt": "a cat", "seed": "x"}', "seed"),
        ('{"prompt": "a cat", "shape": "stars"}', "shape"),
        ('{"prompt": "a cat", "size": "big"}', "size"),
        ('{"prompt": "a cat", "model": "no-such-model"}', "unknown CLIP model"),
        ('{"seed": 1}', "nothing to draw"),
        ('{"prompt": "a cat", ', "invalid JSON"),
        ("[1, 2]", "object"),
    ],
)
def test_bad_row_is_kept_with_its_error(line, message):
    good, bad = parse_rows('{"prompt": "fine"}\n' + line + "\n", "jsonl")
    assert good.ok
    assert not bad.ok and bad.settings is None
    assert message in bad.error
    assert bad.number == 2


def test_a_csv_cell_over_the_limit_is_its_rows_error_and_the_next_rows_are_read(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text("prompt,seed\na cat," + "7" * 200_000 + "\na dog,3\n", encoding="utf-8")
    bad, good = read_rows(path)
    assert not bad.ok and "field larger" in bad.error
    assert good.ok and good.settings.seed == 3
    import csv

    assert csv.field_size_limit() == 131072  # the process-wide limit is put back


def test_rows_and_the_command_line_read_options_alike():
    (row,) = parse_rows('{"prompt": "a::2", "lr_points": "0.5", "crop_scale": "0.6,0.8", '
                        '"classic_negatives": "yes", "width": 40, "height": 30}\n', "jsonl")
    s = row.settings.resolved()
    assert s.prompt_weights == (2.0,) and s.point_lr == 0.5 and s.crop_scale == (0.6, 0.8)
    assert len(s.negatives) == 2 and (s.width, s.height) == (40, 30)


def test_parse_size_accepts_square_and_width_by_height():
    assert parse_size("64") == {"width": 64, "height": 64}
    assert parse_size("320x240") == {"width": 320, "height": 240}
    assert parse_size([10, 20]) == {"width": 10, "height": 20}
    with pytest.raises(ValueError):
        parse_size("1x2x3")


def test_seeds_expand_each_row_into_consecutive_seeds():
    rows = parse_rows('{"prompt": "a cat", "seed": 5}\n', "jsonl")
    jobs = expand_jobs(rows, seeds=3)
    assert [job.key for job in jobs] == ["a-cat_seed5", "a-cat_seed6", "a-cat_seed7"]
    assert [job.candidates[0].seed for job in jobs] == [5, 6, 7]


def test_best_of_gives_each_output_disjoint_candidate_seeds():
    rows = parse_rows("a cat\n", "text")
    jobs = expand_jobs(rows, seeds=2, best_of=3)
    assert [[c.seed for c in job.candidates] for job in jobs] == [[0, 1, 2], [3, 4, 5]]
    assert jobs[0].key == "a-cat_seed0_best3"
    assert jobs[0].stem(2) == "a-cat_seed2"


def test_colliding_names_get_a_settings_suffix_and_exact_duplicates_are_dropped():
    rows = parse_rows(
        '{"prompt": "a cat"}\n{"prompt": "a cat"}\n{"prompt": "A cat!", "paths": 3}\n', "jsonl"
    )
    jobs = expand_jobs(rows)
    assert len(jobs) == 2
    assert jobs[0].key == "a-cat_seed0" and jobs[0].suffix == ""
    assert jobs[1].key.startswith("a-cat_seed0_") and jobs[1].suffix
    assert jobs[1].stem(0) != jobs[0].stem(0)


def test_invalid_rows_become_jobs_that_carry_the_error():
    rows = parse_rows('{"prompt": "a cat", "paths": -1}\n', "jsonl")
    (job,) = expand_jobs(rows, seeds=3)
    assert job.error and not job.candidates


def test_settings_hash_changes_when_a_row_is_edited():
    a, b = DrawSettings(prompts=("x",)), DrawSettings(prompts=("x",), iterations=5)
    assert settings_hash([a]) == settings_hash([DrawSettings(prompts=("x",))])
    assert settings_hash([a]) != settings_hash([b])
