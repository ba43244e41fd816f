//! Reading ai.onnx.ml node attributes off the protobuf, absent ones as empty.

use tract_onnx::pb::{self, tensor_proto::DataType};

pub struct Attrs<'a>(pub &'a pb::NodeProto);

impl<'a> Attrs<'a> {
    fn get(&self, name: &str) -> Option<&'a pb::AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    pub fn ints(&self, name: &str) -> &'a [i64] {
        self.get(name).map_or(&[][..], |a| a.ints.as_slice())
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).map(|a| a.i)
    }

    pub fn floats(&self, name: &str) -> &'a [f32] {
        self.get(name).map_or(&[][..], |a| a.floats.as_slice())
    }

    pub fn string(&self, name: &str) -> &'a [u8] {
        self.get(name).map_or(&[][..], |a| a.s.as_slice())
    }

    pub fn strings(&self, name: &str) -> &'a [Vec<u8>] {
        self.get(name).map_or(&[][..], |a| a.strings.as_slice())
    }

    /// `name` as floats, or `name_as_tensor` (opset 3, double precision) when that is
    /// the one given.
    pub fn reals(&self, name: &str) -> Result<Vec<f64>, String> {
        let floats = self.floats(name);
        let tensor_name = format!("{name}_as_tensor");
        match self.get(&tensor_name).and_then(|a| a.t.as_ref()) {
            Some(t) if floats.is_empty() => {
                tensor_reals(t).map_err(|e| format!("{tensor_name}: {e}"))
            }
            _ => Ok(floats.iter().map(|v| f64::from(*v)).collect()),
        }
    }
}

fn tensor_reals(t: &pb::TensorProto) -> Result<Vec<f64>, String> {
    let raw = &t.raw_data;
    if t.data_type == DataType::Double as i32 {
        if !t.double_data.is_empty() {
            return Ok(t.double_data.clone());
        }
        if !raw.len().is_multiple_of(8) {
            return Err("raw data is not a whole number of doubles".into());
        }
        Ok(raw
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b)
            })
            .collect())
    } else if t.data_type == DataType::Float as i32 {
        if !t.float_data.is_empty() {
            return Ok(t.float_data.iter().map(|v| f64::from(*v)).collect());
        }
        if !raw.len().is_multiple_of(4) {
            return Err("raw data is not a whole number of floats".into());
        }
        Ok(raw
            .chunks_exact(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b.copy_from_slice(c);
                f64::from(f32::from_le_bytes(b))
            })
            .collect())
    } else {
        Err(format!(
            "element type {} is not float or double",
            t.data_type
        ))
    }
}
