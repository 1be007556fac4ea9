from __future__ import annotations

import json
from typing import Any

import pytest

from sentinel_flows import FlowCatalog, FlowDefinitionError, FlowNotFound, default_flows_dir


class TestCatalog:
    def test_repository_flows_are_found_and_load(self) -> None:
        catalog = FlowCatalog()
        assert catalog.directory == default_flows_dir()
        assert "analysis" in catalog.names()
        for name in catalog.names():
            definition = catalog.load(name, {"TaskQueueUrl": "https://sqs.example/q"})
            assert definition.name == name
            assert definition.handlers

    def test_analysis_names_its_handlers(self) -> None:
        definition = FlowCatalog().load("analysis", {"TaskQueueUrl": "q"})
        assert definition.handlers == {"export_window", "run_script", "store_artifact", "notify"}
        assert definition.timeout_seconds == 86400

    def test_placeholders_are_filled_as_json_string_content(self, flow_files: Any, task: Any) -> None:
        flow_files.write("f", {"T": task("h")})
        text = flow_files.catalog.text("f", {"TaskQueueUrl": 'https://q/"quoted"'})
        body = json.loads(text)["States"]["T"]["Parameters"]
        assert body["QueueUrl"] == 'https://q/"quoted"'

    def test_a_missing_placeholder_value_is_named(self, flow_files: Any, task: Any) -> None:
        flow_files.write("f", {"T": task("h")})
        with pytest.raises(FlowDefinitionError, match=r"\$\{TaskQueueUrl\}"):
            flow_files.catalog.text("f", {})

    @pytest.mark.parametrize("name", ["missing", "../analysis", "Analysis"])
    def test_unknown_or_malformed_flow_names(self, flow_files: Any, name: str) -> None:
        with pytest.raises(FlowNotFound):
            flow_files.catalog.text(name)

    def test_invalid_json(self, flow_files: Any) -> None:
        (flow_files.directory / "bad.asl.json").write_text("{", encoding="utf-8")
        with pytest.raises(FlowDefinitionError, match="not valid JSON"):
            flow_files.catalog.load("bad")


class TestChecks:
    @pytest.mark.parametrize(
        ("state", "message"),
        [
            ({"Type": "Map", "End": True}, "not supported"),
            ({"Type": "Parallel", "End": True}, "not supported"),
            ({"Type": "Pass", "Next": "Nowhere"}, "unknown state"),
            ({"Type": "Pass"}, "Next or End"),
            ({"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Format('{}', $.a)"}}, "intrinsic"),
            ({"Type": "Pass", "End": True, "InputPath": "$..a"}, "supported"),
            ({"Type": "Pass", "End": True, "Assign": {"a": 1}}, "Assign"),
            ({"Type": "Wait", "End": True}, "exactly one"),
            ({"Type": "Wait", "End": True, "Seconds": 1, "SecondsPath": "$.s"}, "exactly one"),
            ({"Type": "Choice", "Choices": []}, "non-empty"),
            ({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True}, "Resource"),
        ],
    )
    def test_states_the_local_runner_cannot_run_are_rejected_at_load(
        self, flow_files: Any, state: dict[str, Any], message: str
    ) -> None:
        flow_files.write("f", {"S": state})
        with pytest.raises(FlowDefinitionError, match=message) as raised:
            flow_files.catalog.load("f")
        assert "state 'S'" in str(raised.value)

    def test_task_needs_a_literal_handler_and_the_token(self, flow_files: Any, task: Any) -> None:
        state = task("h")
        state["Parameters"]["MessageBody"].pop("token.$")
        flow_files.write("f", {"T": state})
        with pytest.raises(FlowDefinitionError, match=r"Task\.Token"):
            flow_files.catalog.load("f", {"TaskQueueUrl": "q"})

    def test_catch_needs_error_names_and_a_known_target(self, flow_files: Any, task: Any) -> None:
        flow_files.write("f", {"T": task("h", Catch=[{"ErrorEquals": [], "Next": "T"}])})
        with pytest.raises(FlowDefinitionError, match="ErrorEquals"):
            flow_files.catalog.load("f", {"TaskQueueUrl": "q"})

    def test_start_at_must_be_a_state(self, flow_files: Any) -> None:
        flow_files.write("f", {"S": {"Type": "Succeed"}}, start_at="Other")
        with pytest.raises(FlowDefinitionError, match="StartAt"):
            flow_files.catalog.load("f")

    def test_jsonata_is_rejected(self, flow_files: Any) -> None:
        flow_files.write("f", {"S": {"Type": "Succeed"}}, QueryLanguage="JSONata")
        with pytest.raises(FlowDefinitionError, match="JSONPath"):
            flow_files.catalog.load("f")
