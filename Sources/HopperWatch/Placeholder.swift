// HopperWatch
import HopperCore
