import DuetCore

/// The pose to record for an image whose posterior is known on a grid: the posterior mean of its best mode. Poses
/// whose rotation lies within `modeRadius_rad` of the most probable one are averaged with their posterior
/// weights: unit quaternions (each with the sign of the best's) summed and normalised (the chordal mean on SO(3),
/// which for a concentrated posterior is its mean), shifts and contrast scales averaged. The result lies between
/// grid points, so it is finer than the grid the posterior was scored on; poses of other modes are left out, so
/// that an ambiguous image gets one of its views, not an average of two.
public enum PosteriorMean {
    /// Poses farther than this from the most probable rotation belong to other modes (20°).
    public static let modeRadius_rad = 20 * Double.pi / 180

    /// The mean pose of the mode of `poses[0]` (`poses`: a posterior, most probable first); its weight is the
    /// posterior mass of that mode.
    public static func ofBestMode(_ poses: [WeightedPose]) -> WeightedPose {
        precondition(!poses.isEmpty, "PosteriorMean: an empty posterior")
        let best = poses[0].rotation.quaternionVector
        var quaternion = SIMD4<Double>(), shift = SIMD2<Double>(), scale = 0.0, mass = 0.0
        for pose in poses {
            var q = pose.rotation.quaternionVector
            guard so3Distance_rad(q, best) <= modeRadius_rad else { continue }
            if (q * best).sum() < 0 { q = -q }
            quaternion += pose.weight * q
            shift += pose.weight * pose.shift_px
            scale += pose.weight * pose.scale
            mass += pose.weight
        }
        return WeightedPose(rotation: Rotation(unitQuaternion: quaternion / (quaternion * quaternion).sum().squareRoot()),
                            shift_px: shift / mass, weight: mass, scale: scale / mass)
    }
}
