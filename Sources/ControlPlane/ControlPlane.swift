import Engine
import DataPlane
