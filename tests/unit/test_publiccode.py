"""The product's face: LICENSE is the EUPL-1.2 and publiccode.yml (Standard for Public Code,
version 0.4) parses, has the keys the standard requires, and agrees with the repository."""

from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# From the standard's 0.4 schema (schema.core): the enumerations we use.
DEVELOPMENT_STATUS = {"concept", "development", "beta", "stable", "obsolete"}
SOFTWARE_TYPE = {"standalone/mobile", "standalone/iot", "standalone/desktop", "standalone/web", "standalone/backend",
                 "standalone/other", "addon", "library", "configurationFiles"}
MAINTENANCE_TYPE = {"internal", "contract", "community", "none"}
CATEGORIES = {"call-center-management", "customer-service-and-support", "knowledge-management", "contact-management"}


def test_the_licence_is_the_eupl_1_2():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2")
    assert "Compatible Licences" in text and "GNU General Public License (GPL) v. 2, v. 3" in text


def test_publiccode_yml_parses_and_has_what_the_standard_requires():
    meta = yaml.safe_load((REPO / "publiccode.yml").read_text(encoding="utf-8"))
    assert meta["publiccodeYmlVersion"] == "0.4"
    for key in ("name", "url", "platforms", "categories", "developmentStatus", "softwareType", "description", "legal",
                "maintenance", "localisation", "releaseDate"):
        assert key in meta, key
    assert meta["url"].startswith("https://")
    assert meta["developmentStatus"] in DEVELOPMENT_STATUS
    assert meta["softwareType"] in SOFTWARE_TYPE
    assert set(meta["categories"]) <= CATEGORIES
    date.fromisoformat(meta["releaseDate"])
    assert meta["legal"]["license"] == "EUPL-1.2"  # the SPDX id of LICENSE
    assert meta["maintenance"]["type"] in MAINTENANCE_TYPE and meta["maintenance"]["contacts"]
    assert isinstance(meta["localisation"]["localisationReady"], bool)
    assert set(meta["localisation"]["availableLanguages"]) == {"nl", "en"} == set(meta["description"])
    for language, text in meta["description"].items():
        assert len(text["shortDescription"]) <= 150, language
        assert 150 <= len(text["longDescription"]) <= 10_000, language
        assert text["features"], language
    # The screenshots it names are the ones the desktop's browser tests take.
    for shot in meta["description"]["en"]["screenshots"]:
        assert (REPO / shot).is_file(), shot


def test_publiccode_yml_names_the_version_the_project_has():
    meta = yaml.safe_load((REPO / "publiccode.yml").read_text(encoding="utf-8"))
    project = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{meta["softwareVersion"]}"' in project
