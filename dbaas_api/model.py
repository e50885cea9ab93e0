"""Plain value types shared by the API, the renderer and the Heat plugins.

No Flask and no Heat here: these are the words the layers use to talk to each other.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flavor:
    """A size of instance. On the local driver ram_mb and max_connections become
    the datastore's memory and connection settings; on a cloud id maps to a Nova flavor."""
    id: str
    name: str
    ram_mb: int
    vcpus: int
    max_connections: int


@dataclass(frozen=True)
class UserSpec:
    name: str
    password: str
    databases: tuple = ()
    host: str = "%"


@dataclass(frozen=True)
class InstanceSpec:
    """What a user asked for: everything the renderer needs to build a stack."""
    project_id: str
    name: str
    datastore: str
    version: str
    flavor: Flavor
    volume_size: int
    databases: tuple = ()
    users: tuple = ()  # of UserSpec


@dataclass(frozen=True)
class RenderedStack:
    """A stack ready for Heat: the template text plus the values that go beside it."""
    template: str
    parameters: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
