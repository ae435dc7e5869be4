"""kcc.agent.status.v1: KCC agents signing in, becoming available, busy or away, and signing out."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract

AgentStatus = Literal["available", "busy", "away", "offline"]


class AgentStatusChangedData(Contract):
    agent_id: str = Field(min_length=1, max_length=100, description="The employee's id at the KCC (no citizen data)")
    status: AgentStatus = Field(description="available: can take a contact now; busy: handling one; away: break; offline: signed out")
    at: AwareDatetime
    skills: list[str] = Field(default_factory=list, description="Departments whose contacts the agent can answer (queue skills)")


class AgentStatusChanged(CloudEvent):
    """An agent's status as the agent desktop or the telephony platform reports it."""

    type: Literal["nl.contactstad.agent.status-changed"] = "nl.contactstad.agent.status-changed"
    data: AgentStatusChangedData
